"""Re-scoring with NumPy alone: the routine every kept pair is scored with, and exact top-k
for collections small enough that importing torch for exact.py would cost more (~2 s).

The small search is exact.py's method without the sweep: fp32 candidates from a BLAS
product, re-scored by `score`, ordered (score desc, index asc), certified against the
product's error bound, else searched in full. Both give the same ids and scores.
"""
from __future__ import annotations

import numpy as np

FP32_ROUNDOFF = 2.0 ** -24
RERANK_ROWS = 256   # rows re-scored at a time: bounds the (rows, m, d) gather
SMALL_N = 8192      # up to here, small_top_k (NumPy) beats importing torch for the sweep
MARGIN = 8          # candidates a row beyond k, as exact.py's fp32 pass
BLOCK_ROWS = 1024   # rows scored at a time: 32 MB of scores at SMALL_N


def small_top_k(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores), each N x min(k, N-1), best first, never the row itself."""
    n, dim = vectors.shape
    kk, ids, scores = empty_lists(n, k)
    if kk == 0:
        return ids, scores
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    m = min(n - 1, kk + MARGIN)
    error = dim * FP32_ROUNDOFF  # of a product score, and of a re-scored one
    for start in range(0, n, BLOCK_ROWS):
        rows = np.arange(start, min(n, start + BLOCK_ROWS))
        block = base[rows] @ base.T
        block[np.arange(len(rows)), rows] = -np.inf  # the pairs (i, i)
        cand = np.argpartition(block, n - m, axis=1)[:, n - m:]
        ids[rows], scores[rows] = rerank(base, rows, cand, kk)
        if m < n - 1:  # else every other vector was a candidate
            fence = np.take_along_axis(block, cand, 1).min(axis=1)
            for row in rows[scores[rows, -1] - error <= fence + error]:
                ids[row], scores[row] = full_row(base, row, kk)
    np.clip(scores, -1.0, 1.0, out=scores)
    return ids, scores


def empty_lists(n: int, k: int) -> tuple[int, np.ndarray, np.ndarray]:
    """Return (kk, ids, scores): kk = min(k, n-1) neighbours a row, arrays to fill (n x kk)."""
    kk = max(0, min(k, n - 1))
    return kk, np.empty((n, kk), dtype=np.int64), np.empty((n, kk), dtype=np.float32)


def rerank(base: np.ndarray, rows: np.ndarray, cand: np.ndarray, kk: int):
    """Return each row's best kk candidates by re-scored value, ties by the smaller index."""
    ids = np.empty((len(rows), kk), dtype=np.int64)
    scores = np.empty((len(rows), kk), dtype=np.float32)
    for s in range(0, len(rows), RERANK_ROWS):
        part = slice(s, s + RERANK_ROWS)
        rescored = score(base, rows[part], cand[part])
        order = np.lexsort((cand[part], -rescored), axis=-1)[:, :kk]
        ids[part] = np.take_along_axis(cand[part], order, 1)
        scores[part] = np.take_along_axis(rescored, order, 1)
    return ids, scores


def full_row(base: np.ndarray, i: int, kk: int, block: int = 8192):
    """Return one row's top-kk by re-scoring it against every other vector."""
    everyone = np.arange(len(base))
    row = np.concatenate([score(base, np.array([i]), everyone[None, s:s + block])[0]
                          for s in range(0, len(base), block)])
    row[i] = -np.inf
    order = np.lexsort((everyone, -row))[:kk]
    return order, row[order]


def score(base: np.ndarray, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Return the float32 score of each row against its ids; the one routine every pair uses."""
    return np.einsum("bd,bmd->bm", base[rows], np.take(base, ids, axis=0))
