"""The ranking space a build learned from its collection, applied with NumPy alone.

The job learns it (indexer/ranking/); the web applies the same arithmetic to an upload, so
this module holds only what both need: no torch, no search.

- Whitening (Jegou and Chum, ECCV 2012): centre on the collection's mean, project onto its
  top principal directions, each scaled by a power of its singular value, re-normalise.
- Alpha-weighted database-side augmentation (Arandjelovic and Zisserman, CVPR 2012; alpha as
  in Radenovic, Tolias and Chum, TPAMI 2019): each vector becomes the mean of itself and its
  nearest few, each weighted by its similarity to the power alpha, re-normalised. An upload
  gets the same expansion from its nearest augmented vectors (alpha query expansion).
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from .metrics import unit_rows


@dataclass(frozen=True)
class Whitening:
    mean: np.ndarray        # float32 (d,): the collection's mean unit vector
    projection: np.ndarray  # float32 (d, r): principal directions over singular value ** power

    @property
    def dim(self) -> int:
        return self.projection.shape[1]

    def apply(self, units: np.ndarray) -> np.ndarray:
        """Return whitened unit rows of raw unit rows (N x d -> N x r, float32)."""
        rows = np.asarray(units, np.float32)
        return unit_rows((rows - self.mean) @ self.projection)[0]

    def to_bytes(self) -> bytes:
        out = io.BytesIO()
        np.savez(out, mean=self.mean, projection=self.projection)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Whitening:
        with np.load(io.BytesIO(data)) as arrays:
            return cls(arrays["mean"].astype(np.float32), arrays["projection"].astype(np.float32))


def alpha_weights(similarities: np.ndarray, alpha: float) -> np.ndarray:
    """Return each neighbour's weight: its similarity to the power alpha, 0 when negative."""
    return np.power(np.clip(similarities, 0.0, None), alpha, dtype=np.float32)


def augmented(vectors: np.ndarray, neighbours: np.ndarray, weights: np.ndarray,
              rows: np.ndarray | None = None) -> np.ndarray:
    """Return each row as the unit weighted sum of itself (weight 1) and its neighbours.

    `neighbours` (row positions in `vectors`) and `weights` (one row each, N x n) come from
    the job's search; a row's own vector counts with weight 1, as its similarity to itself
    is 1. `rows`: the positions of the rows that `neighbours` and `weights` describe, where
    `vectors` holds more than them (the web augments an approximate search's candidates from
    their own and their neighbours' vectors only); all of them when None.
    """
    own = vectors if rows is None else vectors[rows]
    total = np.array(own, np.float32, copy=True)
    for column in range(neighbours.shape[1]):
        total += weights[:, column, None] * vectors[neighbours[:, column]]
    return unit_rows(total)[0]


def expanded_query(query: np.ndarray, matrix: np.ndarray, scores: np.ndarray, n: int,
                   alpha: float) -> np.ndarray:
    """Return a unit query expanded by its n best rows of `matrix` (alpha query expansion).

    `scores` are the query's similarities to every row; the rows are the augmented vectors.
    """
    if n <= 0 or not len(scores):
        return query
    best = np.argpartition(-scores, min(n, len(scores)) - 1)[:n]
    weights = alpha_weights(scores[best], alpha)
    total = query + weights @ matrix[best].astype(np.float32)
    return unit_rows(total[None])[0][0]


RAW = "raw"  # a build whose lists rank by the metric alone
RANKED_MEANING = ("similarity after the whitening{dba} learned from this collection: higher is "
                  "closer, 1 at most (the raw cosine is shown beside it)")


def score_meaning(metric: str, steps: str = RAW) -> str:
    """Return what a build's scores are, for people: the metric's, or the learned space's."""
    from .metrics import MEANING
    if steps == RAW:
        return MEANING[metric]
    if "whiten" not in steps:
        return RANKED_MEANING.replace("the whitening{dba}", "the augmentation")
    return RANKED_MEANING.format(dba=" and augmentation" if "dba" in steps else "")
