"""Exact cosine top-k of every embedding among all the others, in bounded memory.

The rows are swept in chunks. Chunk [a, b) is scored against rows [a, N) only: each pair is
computed once, which halves the work of an all-pairs product. The block is read two ways:
1. along its rows, for the chunk itself: the best m candidates of a row lie in the m groups
   of columns with the largest maxima, and one max per group is far cheaper than a top-k over
   the whole row; they are merged with what earlier chunks found for the row (2);
2. along its columns, for the rows of later chunks: the pairs that beat a later row's floor
   are kept for it in `EarlierPairs` until its own chunk comes.
Then, on a second thread while the next block is computed:
3. the candidates are re-scored from the fp32 vectors by one fixed routine and ordered by
   (score desc, index asc), so ties break the same way every time and score(i, j) equals
   score(j, i) to the last bit;
4. a row is certified exact when its k-th re-scored value, less the re-scoring's error, beats
   its m-th fast score plus the fast pass's worst-case error: nothing outside the candidates
   can then belong to the top k. Rows that are not (dense ties, duplicates) go through an
   fp32 pass with its much smaller error when the fast pass was bf16, then a full row.
The fast pass is bf16 on GPUs and AMX CPUs (for large N) and fp32 elsewhere, where NumPy's
BLAS does the product (faster than torch's on AVX2 CPUs).
"Exact" means the true top k, up to float32 rounding of the scores (about 1e-7).
"""
from __future__ import annotations

import functools
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch
from tqdm import tqdm

from ..embedders.hardware import cpu_has_amx
from . import small
from .blocks import GROUP, FastPass, best_along_rows, fast_pass, sweep_chunk
from .earlier_pairs import EarlierPairs
from .small import FP32_ROUNDOFF, empty_lists, full_row, rerank

# The score block's budget. Bigger blocks mean fewer chunks, and fewer pairs kept for later
# rows; 512 MB keeps a 100k x 512 search under 2 GB in all (torch itself is ~600 MB of it).
# Past CHUNK_ROWS rows a chunk's product runs no faster, so small collections use less.
BLOCK_MB = 512
CHUNK_ROWS = 2048
MARGIN = {torch.float32: small.MARGIN, torch.bfloat16: 64, torch.float16: 32}
UNIT_ROUNDOFF = {torch.float32: FP32_ROUNDOFF, torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11}


def fast_pass_error(dtype: torch.dtype, dim: int) -> float:
    """Worst-case error of a fast score of two unit vectors (|sum a_i b_i| <= 1).

    Both inputs rounded to `dtype` (2u), fp32 accumulation over `dim` terms, the output
    rounded to `dtype` (u); fp32 inputs are exact.
    """
    u = UNIT_ROUNDOFF[dtype]
    rounding = 0.0 if dtype == torch.float32 else 3 * u
    return rounding + dim * UNIT_ROUNDOFF[torch.float32]


# The bf16 fast pass pays only with AMX, and only for large N: it halves the product's time
# but needs 74 candidates a row instead of 18, and re-scoring them costs more than it saves
# below the crossover. Measured (benchmarks/benchmark.py neighbors --fast fp32|bf16, d = 512):
# 2-core AMX Xeon: 30k fp32 5.1 s, bf16 8.6 s; 60k fp32 31.8 s, bf16 22.2 s. 2-core AMD Zen 4
# (AVX512-BF16, no AMX): 30k 4.5 vs 5.6 s, 60k 15.3 vs 16.4 s, 100k 38.9 vs 41.9 s: never.
BF16_FROM = 40_000


def default_fast_dtype(device: str = "cpu", n: int = BF16_FROM) -> torch.dtype:
    """bf16 on GPUs, and on AMX CPUs for large N; fp32 elsewhere."""
    if torch.device(device).type == "cuda":
        return torch.bfloat16
    return torch.bfloat16 if cpu_has_amx() and n >= BF16_FROM else torch.float32


def exact_top_k(vectors: np.ndarray, k: int, *, memory_mb: int = BLOCK_MB, device: str = "cpu",
                fast_dtype: torch.dtype | None = None,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores), each N x min(k, N-1), best first, never the row itself."""
    n = len(vectors)
    kk, ids, scores = empty_lists(n, k)
    if kk == 0:
        return ids, scores
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    rescore_error = vectors.shape[1] * UNIT_ROUNDOFF[torch.float32]
    fast_dtype = fast_dtype or default_fast_dtype(device, n)
    fast = _fast_pass(base, kk, fast_dtype, device)
    step = chunk_rows(n, memory_mb, fast.vectors.element_size(), fast.m)
    earlier = EarlierPairs(n, fast.m, step)

    @functools.cache
    def fp32_pass() -> FastPass:  # made only if some row needs it, then kept
        return _fp32_rows_pass(base, kk, device)

    def finish(rows, cand_scores, cand, fence):
        ids[rows], scores[rows] = rerank(base, rows, cand, kk)
        todo = _uncertified(fast, rows, scores, fence, rescore_error)
        if todo.size and fast_dtype != torch.float32:
            todo = _certified_search(fp32_pass(), base, todo, kk, ids, scores, rescore_error)
        for row in todo:
            ids[row], scores[row] = full_row(base, row, kk)

    # Re-scoring (numpy, memory-bound) runs on a second thread while the next chunk's
    # product runs: both release the GIL.
    with ThreadPoolExecutor(1) as pool:
        pending = None
        for start in tqdm(range(0, n, step), desc="neighbours", unit="chunk",
                          disable=not progress, file=sys.stderr):
            stop = min(n, start + step)
            found = sweep_chunk(fast, earlier, start, stop)
            if pending:
                pending.result()
            pending = pool.submit(finish, np.arange(start, stop), *found)
        pending.result()
    np.clip(scores, -1.0, 1.0, out=scores)
    return ids, scores


def chunk_rows(n: int, memory_mb: int, element_size: int = 4, m: int = 18) -> int:
    """Return how many query rows fit the budget (a multiple of GROUP, at least m)."""
    per_row = n * element_size + m * GROUP * (8 + element_size) * 2 + n // GROUP * 4
    rows = min(CHUNK_ROWS, (memory_mb << 20) // per_row) // GROUP * GROUP
    return max(rows, -(-m // GROUP) * GROUP)


def _fast_pass(base: np.ndarray, kk: int, dtype: torch.dtype, device: str) -> FastPass:
    m = min(len(base) - 1, kk + MARGIN[dtype])
    return fast_pass(base, m, dtype, device, fast_pass_error(dtype, base.shape[1]))


def _fp32_rows_pass(base: np.ndarray, kk: int, device: str) -> FastPass:
    """Return the fp32 pass for the rows a bf16 pass could not certify.

    It scores whole rows only (no sweep, so no padding to GROUP): on a CPU it reads `base`
    in place rather than a copy (200 MB at 100k x 512, which broke the 2 GB budget).
    """
    if torch.device(device).type != "cpu":
        return _fast_pass(base, kk, torch.float32, device)
    m = min(len(base) - 1, kk + MARGIN[torch.float32])
    return FastPass(torch.from_numpy(base), len(base), m,
                    fast_pass_error(torch.float32, base.shape[1]))


def _certified_search(fast: FastPass, base: np.ndarray, rows: np.ndarray, kk: int,
                      ids: np.ndarray, scores: np.ndarray, rescore_error: float) -> np.ndarray:
    """Fill in `rows` from a full-width pass; return the rows it could not certify."""
    todo = []
    for s in range(0, len(rows), 256):
        part = rows[s:s + 256]
        cand_scores, cand = best_along_rows(fast.against_all(part), fast.m)
        ids[part], scores[part] = rerank(base, part, cand.cpu().numpy(), kk)
        fence = cand_scores[:, -1].float().cpu().numpy()
        todo.append(_uncertified(fast, part, scores, fence, rescore_error))
    return np.concatenate(todo)


def _uncertified(fast: FastPass, rows: np.ndarray, scores: np.ndarray, fence: np.ndarray,
                 rescore_error: float) -> np.ndarray:
    """Return the rows whose k-th re-scored value does not clear their fence."""
    if fast.m >= fast.n - 1:  # every other vector was a candidate
        return rows[:0]
    certified = scores[rows, -1] - rescore_error > fence + fast.error
    return rows[~certified]
