"""The vectors a build's lists rank by: raw units, whitened, augmented, as settings say."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from core.ranking import Whitening, alpha_weights, augmented

from .settings import RankingSettings
from .whitening import learn_whitening

# (vectors, k) -> (ids, scores): each row's k nearest other rows, best first (exact, or
# FAISS past `--neighbors`'s limit).
Search = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


@dataclass
class RankingSpace:
    vectors: np.ndarray                 # what the lists rank by (cosine of unit rows)
    settings: RankingSettings
    whitening: Whitening | None = None
    neighbours: np.ndarray | None = None  # N x n positions each vector was augmented with
    weights: np.ndarray | None = None     # their weights
    timings: dict = field(default_factory=dict)

    @property
    def steps(self) -> str:
        """Return the steps applied: fewer than asked where the collection is too small."""
        applied = [name for name, done in (("whiten", self.whitening is not None),
                                           ("dba", self.neighbours is not None)) if done]
        return "+".join(applied) or "raw"


def ranking_space(units: np.ndarray, settings: RankingSettings, search: Search) -> RankingSpace:
    """Return the vectors to rank by: `units` whitened and augmented where settings ask.

    Augmentation needs each vector's neighbours first: one more exact search, before the
    one that makes the lists.
    """
    space = RankingSpace(units, settings)
    tick = time.perf_counter()
    if settings.whiten:
        space.whitening = learn_whitening(units, settings.dims, settings.power)
        if space.whitening is not None:
            space.vectors = space.whitening.apply(units)
        space.timings["whiten_seconds"] = time.perf_counter() - tick
    n = min(settings.neighbours, len(units) - 1)
    if settings.dba and n > 0:
        tick = time.perf_counter()
        ids, scores = search(space.vectors, n)
        space.neighbours = ids.astype(np.int32)
        space.weights = alpha_weights(scores, settings.alpha)
        space.vectors = augmented(space.vectors, space.neighbours, space.weights)
        space.timings["dba_seconds"] = time.perf_counter() - tick
    space.timings["ranking"] = space.steps
    return space


def settings_for(metric: str, settings: RankingSettings) -> RankingSettings:
    """Return the settings a build ranks by: the steps act on directions, so cosine only."""
    if metric == "cosine":
        return settings
    return RankingSettings(whiten=False, dba=False)


COSINE_CHUNK_ROWS = 8192  # rows x d floats at a time: bounded memory at any N


def raw_cosines(units: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Return the raw cosine of each row with each of its listed rows (N x k, float32)."""
    out = np.empty(ids.shape, np.float32)
    for start in range(0, len(ids), COSINE_CHUNK_ROWS):
        rows = units[start:start + COSINE_CHUNK_ROWS]
        for column in range(ids.shape[1]):
            others = units[ids[start:start + COSINE_CHUNK_ROWS, column]]
            out[start:start + len(rows), column] = np.einsum("ij,ij->i", rows, others)
    return out


def with_cosines(related: list[tuple], units: np.ndarray) -> list[tuple]:
    """Return copies and distinct rows (row, kind, rank, other, score) with the raw cosine."""
    return [(row, kind, rank, other, score, float(units[row] @ units[other]))
            for row, kind, rank, other, score in related]
