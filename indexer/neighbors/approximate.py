"""Approximate top-k with FAISS, for collections past what exact search does in reasonable time.

HNSW over inner products (the vectors are unit length, so inner product is cosine). Its
candidates are re-scored and ordered exactly as the exact search does, so the two modes
differ only where HNSW missed a neighbour; recall against exact search is measured on a
sample and reported with the build.
"""
from __future__ import annotations

import numpy as np

from .small import full_row, score

RECALL_SAMPLE = 1000


def hnsw_parameters(n: int, k: int) -> dict:
    """Return graph degree and search widths that keep recall@10 >= 0.95 up to millions."""
    return {"M": 32 if n < 2_000_000 else 48, "ef_construction": 80,
            "ef_search": max(4 * k, 96 if n < 1_000_000 else 160)}


def faiss_top_k(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores) like exact_top_k, found through an HNSW graph."""
    import faiss  # only this mode needs it
    n, dim = vectors.shape
    kk = max(0, min(k, n - 1))
    if kk == 0:
        return np.empty((n, 0), np.int64), np.empty((n, 0), np.float32)
    params = hnsw_parameters(n, k)
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    index = faiss.IndexHNSWFlat(dim, params["M"], faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = params["ef_construction"]
    index.add(x)
    index.hnsw.efSearch = params["ef_search"]
    _, found = index.search(x, kk + 1)  # +1: the query itself is usually among them
    return _rerank_without_self(x, found, kk)


def _rerank_without_self(x: np.ndarray, found: np.ndarray, kk: int):
    """Drop each row's own id (and FAISS's -1 padding), re-score in float64, keep the best kk."""
    rows = np.arange(len(found))
    invalid = (found == rows[:, None]) | (found < 0)
    safe = np.where(invalid, 0, found)
    scores = score(x, rows, safe)
    scores[invalid] = -np.inf
    order = np.lexsort((safe, -scores), axis=-1)[:, :kk]
    ids = np.take_along_axis(safe, order, 1)
    best = np.take_along_axis(scores, order, 1)
    # HNSW may return fewer than kk others for a row (tiny or clumped graphs): do it exactly.
    for row in np.flatnonzero(~np.isfinite(best).all(axis=1)):
        ids[row], best[row] = full_row(x, row, kk)
    return ids, np.clip(best, -1.0, 1.0).astype(np.float32)


def recall_at_k(vectors: np.ndarray, ids: np.ndarray, sample: int = RECALL_SAMPLE) -> float:
    """Return the fraction of true top-k neighbours found, on a random sample of rows."""
    n, kk = ids.shape
    if kk == 0:
        return 1.0
    rows = np.random.default_rng(0).choice(n, min(sample, n), replace=False)
    best_ids = exact_rows_top_k(vectors, rows, kk)
    hits = sum(len(set(want) & set(got)) for want, got in zip(best_ids.tolist(), ids[rows].tolist()))
    return hits / (len(rows) * kk)


def exact_rows_top_k(vectors: np.ndarray, rows: np.ndarray, kk: int, exclude_self: bool = True,
                     column_chunk: int = 100_000) -> np.ndarray:
    """Return the ids of the exact top-kk of each of `rows` among all vectors (by inner
    product, in no particular order), without the row itself unless `exclude_self` is False.

    Chunked over the columns: memory stays len(rows) x column_chunk, whatever n is.
    """
    n = len(vectors)
    best = np.full((len(rows), kk), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(rows), kk), dtype=np.int64)
    for start in range(0, n, column_chunk):
        block = vectors[rows] @ vectors[start:start + column_chunk].T
        if exclude_self:
            own = rows - start
            inside = (own >= 0) & (own < block.shape[1])
            block[np.flatnonzero(inside), own[inside]] = -np.inf
        merged = np.concatenate([best, block], axis=1)
        merged_ids = np.concatenate(
            [best_ids, np.broadcast_to(np.arange(start, start + block.shape[1]), block.shape)], 1)
        top = np.argpartition(-merged, kk - 1, axis=1)[:, :kk]
        best = np.take_along_axis(merged, top, 1)
        best_ids = np.take_along_axis(merged_ids, top, 1)
    return best_ids
