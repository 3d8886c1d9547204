"""Bounded random samples: the explore stage never works on more rows than its limits."""
from __future__ import annotations

import numpy as np


def bounded_sample(n: int, limit: int, seed: int) -> np.ndarray:
    """Return at most `limit` sorted row numbers of n, drawn without replacement (all if fewer)."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))
