"""Re-scoring with NumPy alone: the routine every kept pair is scored with, and exact top-k
for collections small enough that importing torch for exact.py would cost more (~2 s), and
for the raw-feature metrics (euclidean, dot) at any size.

The small search is exact.py's method without the sweep: fp32 candidates from a BLAS
product, re-scored by `score`, ordered (score desc, index asc), certified against the
product's error bound, else searched in full. Both give the same ids and scores. For
euclidean, the "score" ranked is minus the squared distance, and the distance is returned.
"""
from __future__ import annotations

import numpy as np

FP32_ROUNDOFF = 2.0 ** -24
RERANK_ROWS = 256   # rows re-scored at a time: bounds the (rows, m, d) gather
SMALL_N = 8192      # up to here, small_top_k (NumPy) beats importing torch for the sweep
MARGIN = 8          # candidates a row beyond k, as exact.py's fp32 pass
BLOCK_ROWS = 1024   # rows scored at a time: 32 MB of scores at SMALL_N
BLOCK_VALUES = 2 ** 25  # at most 128 MB of fp32 scores a block, for large raw-feature runs


def small_top_k(vectors: np.ndarray, k: int, metric: str = "cosine"
                ) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores), each N x min(k, N-1), best first, never the row itself.

    cosine: `vectors` are unit length; euclidean, dot: raw features (see core/metrics.py).
    """
    kk, ids, scores = empty_lists(len(vectors), k)
    if kk == 0:
        return ids, scores
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    ids[:], scores[:] = top_k_of_rows(base, 0, len(base), kk, metric)
    return ids, scores


def top_k_of_rows(base: np.ndarray, start: int, stop: int, kk: int, metric: str = "cosine"
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Return rows [start, stop)'s top-kk (ids, scores) among all of `base` (fp32, read only).

    A row's list does not depend on the rows it is searched with: the Ray job searches
    blocks of rows in separate tasks and gets the lists of one small_top_k.
    """
    return top_k_of_selected(base, np.arange(start, stop), kk, metric)


def top_k_of_selected(base: np.ndarray, selected: np.ndarray, kk: int, metric: str = "cosine"
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Return the top-kk (ids, scores) of the rows `selected` (any row numbers, in order)."""
    n, dim = base.shape
    count = len(selected)
    ids, scores = np.empty((count, kk), np.int64), np.empty((count, kk), np.float32)
    squares = np.einsum("nd,nd->n", base, base) if metric != "cosine" else None
    m = min(n - 1, kk + MARGIN)
    block_rows = max(1, min(BLOCK_ROWS, BLOCK_VALUES // n))
    for first in range(0, count, block_rows):
        at = np.arange(first, min(count, first + block_rows))
        rows = selected[at]
        block = base[rows] @ base.T
        if metric == "euclidean":  # minus the squared distance: |a|^2 + |b|^2 - 2 a.b
            block = 2 * block - squares[rows, None] - squares[None, :]
        block[np.arange(len(rows)), rows] = -np.inf  # the pairs (i, i)
        cand = np.argpartition(block, n - m, axis=1)[:, n - m:]
        ids[at], scores[at] = rerank(base, rows, cand, kk, metric)
        if m < n - 1:  # else every other vector was a candidate
            error = score_error(dim, rows, squares, metric)
            fence = np.take_along_axis(block, cand, 1).min(axis=1)
            for i in np.flatnonzero(scores[at, -1] - error <= fence + error):
                ids[at[i]], scores[at[i]] = full_row(base, rows[i], kk, metric)
    if metric == "cosine":
        np.clip(scores, -1.0, 1.0, out=scores)
    elif metric == "euclidean":
        np.sqrt(np.maximum(-scores, 0), out=scores)
    return ids, scores


def score_error(dim: int, rows: np.ndarray, squares: np.ndarray | None, metric: str):
    """Return a bound on the fp32 error of a product score, and of a re-scored one, per row."""
    if metric == "cosine":
        return dim * FP32_ROUNDOFF
    # |a.b| <= |a| |b|, and each term of a sum of `dim` products errs by ~dim roundoffs of it.
    scale = np.sqrt(squares[rows]) * np.sqrt(squares.max())
    if metric == "dot":
        return dim * FP32_ROUNDOFF * scale
    return (2 * dim + 4) * FP32_ROUNDOFF * (squares[rows] + squares.max() + 2 * scale)


def empty_lists(n: int, k: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Return (kk, ids, scores): kk = min(k, n-1) neighbours a row, arrays to fill (n x kk)."""
    kk = max(0, min(k, n - 1))
    return kk, np.empty((n, kk), dtype=np.int64), np.empty((n, kk), dtype=np.float32)


def rerank(base: np.ndarray, rows: np.ndarray, cand: np.ndarray, kk: int,
           metric: str = "cosine"):
    """Return each row's best kk candidates by re-scored value, ties by the smaller index."""
    ids = np.empty((len(rows), kk), dtype=np.int64)
    scores = np.empty((len(rows), kk), dtype=np.float32)
    for s in range(0, len(rows), RERANK_ROWS):
        part = slice(s, s + RERANK_ROWS)
        rescored = score(base, rows[part], cand[part], metric)
        order = np.lexsort((cand[part], -rescored), axis=-1)[:, :kk]
        ids[part] = np.take_along_axis(cand[part], order, 1)
        scores[part] = np.take_along_axis(rescored, order, 1)
    return ids, scores


def full_row(base: np.ndarray, i: int, kk: int, metric: str = "cosine", block: int = 8192):
    """Return one row's top-kk by re-scoring it against every other vector."""
    everyone = np.arange(len(base))
    row = np.concatenate([score(base, np.array([i]), everyone[None, s:s + block], metric)[0]
                          for s in range(0, len(base), block)])
    row[i] = -np.inf
    order = np.lexsort((everyone, -row))[:kk]
    return order, row[order]


def score(base: np.ndarray, rows: np.ndarray, ids: np.ndarray,
          metric: str = "cosine") -> np.ndarray:
    """Return the float32 score of each row against its ids; the one routine every pair uses.

    cosine and dot: the product; euclidean: minus the squared distance, summed from the
    differences (no cancellation, unlike the product's expansion).
    """
    others = np.take(base, ids, axis=0)
    if metric == "euclidean":
        differences = base[rows][:, None, :] - others
        return -np.einsum("bmd,bmd->bm", differences, differences)
    return np.einsum("bd,bmd->bm", base[rows], others)
