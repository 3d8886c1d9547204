"""Each image's top-k most similar images: the one front that chooses how to find them.

- small.py: up to SMALL_N vectors on a CPU, NumPy alone (importing torch would cost more);
- exact.py (with blocks.py and earlier_pairs.py): the chunked symmetric sweep, bounded
  memory, certified exact, on a CPU or a GPU;
- approximate.py: FAISS HNSW past EXACT_LIMIT, with recall@k measured on a sample.
Nothing here imports torch or FAISS until the method that needs it runs.
"""
from __future__ import annotations

import numpy as np

from .small import SMALL_N, small_top_k

# Exact search is O(N^2): about a minute for 100k images on a 2-core CPU, an hour for 1M.
# Past this size (CPU) the job switches to FAISS HNSW; a GPU does 1M exactly in about a minute.
EXACT_LIMIT = {"cpu": 200_000, "cuda": 2_000_000}
METHODS = ("auto", "exact", "faiss")


def check_method(requested: str, metric: str) -> None:
    """Raise ValueError where the method asked for cannot rank by `metric`.

    The raw-feature metrics (euclidean, dot) are always searched exactly (small.py, NumPy):
    the FAISS index and the symmetric sweep are built for cosine.
    """
    if metric != "cosine" and requested == "faiss":
        raise ValueError(f"--neighbors faiss ranks by cosine only, not {metric}")


def choose_method(requested: str, n: int, device_type: str, metric: str = "cosine") -> str:
    """Return 'exact' or 'faiss': what was asked for, or by size where 'auto'."""
    check_method(requested, metric)
    if metric != "cosine":
        return "exact"
    if requested != "auto":
        return requested
    return "exact" if n <= EXACT_LIMIT.get(device_type, EXACT_LIMIT["cpu"]) else "faiss"


def find_neighbors(method: str, vectors: np.ndarray, k: int, device: str = "cpu",
                   progress: bool = False, metric: str = "cosine"):
    """Return (ids, scores, recall): recall@k measured on a sample for FAISS, else None.

    Scores are the metric's: similarity (cosine), product (dot) or distance (euclidean),
    each list closest first.
    """
    if metric != "cosine":
        return (*small_top_k(vectors, k, metric), None)
    if method == "faiss":
        from .approximate import faiss_top_k, recall_at_k
        ids, scores = faiss_top_k(vectors, k)
        return ids, scores, recall_at_k(vectors, ids)
    if device == "cpu" and len(vectors) <= SMALL_N:
        ids, scores = small_top_k(vectors, k)  # the same answer, without importing torch
    else:
        from .exact import exact_top_k
        ids, scores = exact_top_k(vectors, k, device=device, progress=progress)
    return ids, scores, None
