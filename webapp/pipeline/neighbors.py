"""Exact cosine top-k of every embedding among all the others, in bounded memory.

Two passes per chunk of query rows:
1. a fast matrix product (fp32, or bf16 where the CPU or GPU does it natively) picks
   `k + margin` candidates per row; only a chunk x N block of scores exists at a time;
2. the candidates are re-scored in float64 and ordered by (score desc, index asc), so ties
   are broken the same way every time and score(i, j) == score(j, i) to the last bit.
A row is certified exact when its k-th exact score beats anything the fast pass could have
under-estimated outside the candidates; rows that are not (dense ties, duplicates) are
recomputed exactly against the whole collection.
"""
from __future__ import annotations

import sys

import numpy as np
import torch
from tqdm import tqdm

MARGIN = 8
# Largest error of a fast-pass score of two unit vectors, with room: fp32 accumulates
# rounding of about d * 2**-24; bf16 rounds each input to 8 significant bits (2 * 2**-8).
FAST_PASS_ERROR = {torch.float32: 1e-4, torch.bfloat16: 1.2e-2, torch.float16: 2e-3}


def exact_top_k(vectors: np.ndarray, k: int, *, memory_mb: int = 256, device: str = "cpu",
                fast_dtype: torch.dtype = torch.float32,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores), each N x min(k, N-1), best first, never the row itself."""
    n = len(vectors)
    kk = max(0, min(k, n - 1))
    ids = np.empty((n, kk), dtype=np.int64)
    scores = np.empty((n, kk), dtype=np.float32)
    if kk == 0:
        return ids, scores
    exact = np.ascontiguousarray(vectors, dtype=np.float64)
    fast = torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32))
    fast = fast.to(device=device, dtype=fast_dtype)
    m = min(n - 1, kk + MARGIN)
    error = FAST_PASS_ERROR[fast_dtype]
    rows = chunk_rows(n, memory_mb)
    for start in tqdm(range(0, n, rows), desc="neighbours", unit="chunk", disable=not progress,
                      file=sys.stderr):
        stop = min(n, start + rows)
        cand_scores, cand = _candidates(fast, start, stop, m)
        for row, (row_ids, row_scores) in enumerate(_rerank(exact, start, cand, kk)):
            certified = m == n - 1 or row_scores[-1] > cand_scores[row, -1] + error
            if not certified:
                row_ids, row_scores = _exact_row(exact, start + row, kk)
            ids[start + row], scores[start + row] = row_ids, row_scores
    np.clip(scores, -1.0, 1.0, out=scores)
    return ids, scores


def chunk_rows(n: int, memory_mb: int) -> int:
    """Return how many query rows fit the budget: a rows x N score block plus top-k temporaries."""
    return max(1, min(n, (memory_mb << 20) // (n * 4 * 3)))


def _candidates(fast: torch.Tensor, start: int, stop: int, m: int):
    """Return the fast pass's best m (scores, ids) for rows start..stop, self excluded."""
    block = fast[start:stop] @ fast.T
    rows = torch.arange(stop - start, device=block.device)
    block[rows, rows + start] = -torch.inf
    cand_scores, cand = torch.topk(block, m, dim=1, sorted=True)
    return cand_scores.float().cpu().numpy(), cand.cpu().numpy()


def _rerank(exact: np.ndarray, start: int, cand: np.ndarray, kk: int):
    """Yield each row's best kk candidates by float64 score, ties by the smaller index."""
    rescored = _score(exact, exact[start:start + len(cand)], cand)
    for row_ids, row_scores in zip(cand, rescored):
        order = np.lexsort((row_ids, -row_scores))[:kk]
        yield row_ids[order], row_scores[order]


def _exact_row(exact: np.ndarray, i: int, kk: int):
    """Return one row's top-kk against the whole collection in float64."""
    row_scores = exact @ exact[i]
    row_scores[i] = -np.inf
    order = np.lexsort((np.arange(len(row_scores)), -row_scores))[:kk]
    return order, _score(exact, exact[i:i + 1], order[None])[0]


def _score(exact: np.ndarray, queries: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Return float64 scores of each query against its ids, the same way for every pair."""
    return np.einsum("bd,bmd->bm", queries, exact[ids])
