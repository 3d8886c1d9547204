"""Exact cosine top-k of every embedding among all the others, in bounded memory.

For each chunk of query rows:
1. a fast matrix product (bf16 where the CPU has AMX/AVX512-BF16 or on a GPU, else fp32)
   scores the chunk against everything; only a chunk x N block exists at a time, and its
   buffer is reused from chunk to chunk;
2. the best m candidates of each row are found through group maxima: the top-m values of a
   row lie in the m groups of columns with the largest maxima, and one max per group is far
   cheaper than a top-k over the whole row;
3. the candidates are re-scored from the fp32 vectors by one fixed routine and ordered by
   (score desc, index asc), so ties break the same way every time and score(i, j) equals
   score(j, i) to the last bit;
4. a row is certified exact when its k-th re-scored value, less the re-scoring's error, beats
   the m-th fast score plus the fast pass's worst-case error: nothing outside the candidates
   can then belong to the top k. Rows that are not (dense ties, duplicates) go through an
   fp32 pass with its much smaller error, and the rare rest through a full row.
"Exact" means the true top k, up to float32 rounding of the scores (about 1e-7).
"""
from __future__ import annotations

import functools
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

GROUP = 64          # columns per group in the candidate selection
RERANK_ROWS = 256   # rows re-scored at a time: bounds the (rows, m, d) gather
MARGIN = {torch.float32: 8, torch.bfloat16: 64, torch.float16: 32}
UNIT_ROUNDOFF = {torch.float32: 2.0 ** -24, torch.bfloat16: 2.0 ** -8, torch.float16: 2.0 ** -11}


def fast_pass_error(dtype: torch.dtype, dim: int) -> float:
    """Worst-case error of a fast score of two unit vectors (|sum a_i b_i| <= 1).

    Both inputs rounded to `dtype` (2u), fp32 accumulation over `dim` terms, the output
    rounded to `dtype` (u); fp32 inputs are exact.
    """
    u = UNIT_ROUNDOFF[dtype]
    rounding = 0.0 if dtype == torch.float32 else 3 * u
    return rounding + dim * UNIT_ROUNDOFF[torch.float32]


@dataclass
class FastPass:
    columns: torch.Tensor  # d x (N rounded up to GROUP), contiguous: the product's right side
    n: int
    m: int                 # candidates per row
    error: float
    block: torch.Tensor | None = None  # the score buffer, reused: fresh pages cost a third more

    def queries(self, base: np.ndarray, rows: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(base[rows]).to(self.columns.device, self.columns.dtype)


# Below this many vectors an fp32 pass wins on a CPU: bf16 halves the product's time but
# needs 74 candidates a row instead of 18, and re-scoring them costs more than it saves
# (measured break-even between 10k and 30k on a 2-core AMX Xeon).
BF16_FROM = 20_000


def default_fast_dtype(device: str = "cpu", n: int = BF16_FROM) -> torch.dtype:
    """bf16 where it is native (GPUs; CPUs with AMX or AVX512-BF16, for large N), else fp32."""
    if torch.device(device).type == "cuda":
        return torch.bfloat16
    from .embed import cpu_has_bf16
    return torch.bfloat16 if cpu_has_bf16() and n >= BF16_FROM else torch.float32


def exact_top_k(vectors: np.ndarray, k: int, *, memory_mb: int = 256, device: str = "cpu",
                fast_dtype: torch.dtype | None = None,
                progress: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Return (ids, scores), each N x min(k, N-1), best first, never the row itself."""
    n = len(vectors)
    kk = max(0, min(k, n - 1))
    ids = np.empty((n, kk), dtype=np.int64)
    scores = np.empty((n, kk), dtype=np.float32)
    if kk == 0:
        return ids, scores
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    rescore_error = vectors.shape[1] * UNIT_ROUNDOFF[torch.float32]
    fast_dtype = fast_dtype or default_fast_dtype(device, n)
    first = _fast_pass(base, kk, fast_dtype, device)
    step = chunk_rows(n, memory_mb, first.columns.element_size(), first.m)

    @functools.cache
    def fp32_pass() -> FastPass:  # made only if some row needs it
        return _fast_pass(base, kk, torch.float32, device)

    def finish(todo, cand_scores, cand):
        todo = _certify(first, base, todo, cand_scores, cand, kk, ids, scores, rescore_error)
        if todo.size and fast_dtype != torch.float32:
            todo = _certified_search(fp32_pass(), base, todo, kk, ids, scores, rescore_error)
        for row in todo:
            ids[row], scores[row] = _full_row(base, row, kk)

    # Re-scoring (numpy, memory-bound) runs on a second thread while the next chunk's
    # product runs: both release the GIL.
    with ThreadPoolExecutor(1) as pool:
        pending = None
        for start in tqdm(range(0, n, step), desc="neighbours", unit="chunk",
                          disable=not progress, file=sys.stderr):
            todo = np.arange(start, min(n, start + step))
            found = _candidates(first, base, todo)
            if pending:
                pending.result()
            pending = pool.submit(finish, todo, *found)
        pending.result()
    np.clip(scores, -1.0, 1.0, out=scores)
    return ids, scores


def chunk_rows(n: int, memory_mb: int, element_size: int = 4, m: int = 18) -> int:
    """Return how many query rows fit the budget: their score block and its temporaries."""
    per_row = n * element_size + m * GROUP * (8 + element_size) * 2 + n // GROUP * 4
    return max(1, min(n, (memory_mb << 20) // per_row))


def _fast_pass(base: np.ndarray, kk: int, dtype: torch.dtype, device: str) -> FastPass:
    n, dim = base.shape
    padded = -(-n // GROUP) * GROUP
    columns = torch.zeros((dim, padded), dtype=dtype, device=device)
    for s in range(0, n, 65536):  # converted in slices: no full-size temporary
        part = base[s:s + 65536]
        columns[:, s:s + len(part)] = torch.from_numpy(part).to(device, dtype).T
    return FastPass(columns, n, min(n - 1, kk + MARGIN[dtype]), fast_pass_error(dtype, dim))


def _certified_search(fast: FastPass, base: np.ndarray, rows: np.ndarray, kk: int,
                      ids: np.ndarray, scores: np.ndarray, rescore_error: float) -> np.ndarray:
    """Fill in `rows` of ids and scores; return the rows this pass could not certify."""
    return _certify(fast, base, rows, *_candidates(fast, base, rows), kk, ids, scores,
                    rescore_error)


def _certify(fast: FastPass, base: np.ndarray, rows: np.ndarray, cand_scores: np.ndarray,
             cand: np.ndarray, kk: int, ids: np.ndarray, scores: np.ndarray,
             rescore_error: float) -> np.ndarray:
    """Re-score the candidates into ids and scores; return the rows left uncertified."""
    ids[rows], scores[rows] = _rerank(base, rows, cand, kk)
    if fast.m >= fast.n - 1:  # every other vector was a candidate
        return rows[:0]
    certified = scores[rows, -1] - rescore_error > cand_scores[:, -1] + fast.error
    return rows[~certified]


def _candidates(fast: FastPass, base: np.ndarray, rows: np.ndarray):
    """Return the fast pass's best m (scores, ids) for `rows`, the row itself excluded."""
    device = fast.columns.device
    if fast.block is None or fast.block.shape[0] < len(rows):
        fast.block = torch.empty((len(rows), fast.columns.shape[1]), dtype=fast.columns.dtype,
                                 device=device)
    block = torch.matmul(fast.queries(base, rows), fast.columns, out=fast.block[:len(rows)])
    block[torch.arange(len(rows), device=device), torch.from_numpy(rows).to(device)] = -torch.inf
    block[:, fast.n:] = -torch.inf
    groups = block.shape[1] // GROUP
    if groups > 2 * fast.m:
        maxima = block.view(len(rows), groups, GROUP).amax(dim=2)
        best_groups = torch.topk(maxima, fast.m, dim=1).indices
        columns = (best_groups[:, :, None] * GROUP
                   + torch.arange(GROUP, device=block.device)).view(len(rows), -1)
        cand_scores, at = torch.topk(block.gather(1, columns), fast.m, dim=1)
        cand = columns.gather(1, at)
    else:
        cand_scores, cand = torch.topk(block, fast.m, dim=1)
    return cand_scores.float().cpu().numpy(), cand.cpu().numpy()


def _rerank(base: np.ndarray, rows: np.ndarray, cand: np.ndarray, kk: int):
    """Return each row's best kk candidates by re-scored value, ties by the smaller index."""
    ids = np.empty((len(rows), kk), dtype=np.int64)
    scores = np.empty((len(rows), kk), dtype=np.float32)
    for s in range(0, len(rows), RERANK_ROWS):
        part = slice(s, s + RERANK_ROWS)
        rescored = _score(base, rows[part], cand[part])
        order = np.lexsort((cand[part], -rescored), axis=-1)[:, :kk]
        ids[part] = np.take_along_axis(cand[part], order, 1)
        scores[part] = np.take_along_axis(rescored, order, 1)
    return ids, scores


def _full_row(base: np.ndarray, i: int, kk: int, block: int = 8192):
    """Return one row's top-kk by re-scoring it against every other vector."""
    everyone = np.arange(len(base))
    row = np.concatenate([_score(base, np.array([i]), everyone[None, s:s + block])[0]
                          for s in range(0, len(base), block)])
    row[i] = -np.inf
    order = np.lexsort((everyone, -row))[:kk]
    return order, row[order]


def _score(base: np.ndarray, rows: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Return the float32 score of each row against its ids; the one routine every pair uses."""
    return np.einsum("bd,bmd->bm", base[rows], np.take(base, ids, axis=0))
