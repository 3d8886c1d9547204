"""One chunk of the exact search's sweep: its block of fast scores, read along rows and columns.

Chunk [a, b) is scored against rows [a, N) only, so each pair is computed once. The block is
read twice:
- along its rows, one maximum per GROUP columns: a row's best m scores lie in the m groups
  with the largest maxima, and one max per group is far cheaper than a top-k of the row;
- along its columns, for the rows of later chunks: one maximum per ROW_GROUP rows, and the
  pairs of groups above a later row's floor are kept for it in `EarlierPairs`.
(Making the block in cache-sized tiles and reading each while it is hot was tried: on the
2-core EPYC, N = 30k took 11.4 s against 7.5 s this way.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .earlier_pairs import EarlierPairs

GROUP = 64          # columns per group when a block is read along its rows
ROW_GROUP = 8       # rows per group when it is read along its columns
SLAB = 16384        # columns read along their length at a time


@dataclass
class FastPass:
    """The vectors in the fast pass's dtype and device, padded with zero rows to GROUP."""
    vectors: torch.Tensor
    n: int
    m: int              # candidates per row
    error: float        # worst-case error of one fast score
    buffer: torch.Tensor | None = field(default=None, repr=False)  # reused: fresh pages cost

    def block(self, start: int, stop: int) -> torch.Tensor:
        """Return rows [start, stop) scored against rows [start, N); self-pairs and padding -inf."""
        left, right = self.vectors[start:stop], self.vectors[start:]
        size = len(left) * len(right)
        if self.buffer is None or self.buffer.numel() < size:
            self.buffer = torch.empty(size, dtype=self.vectors.dtype, device=self.vectors.device)
        out = self.buffer[:size].view(len(left), len(right))
        if self.vectors.device.type == "cpu" and self.vectors.dtype == torch.float32:
            np.matmul(left.numpy(), right.numpy().T, out=out.numpy())  # OpenBLAS beats MKL on AVX2
        else:
            torch.matmul(left, right.T, out=out)
        out.diagonal()[:] = -torch.inf  # the pairs (i, i)
        return self._without_padding(out, start)

    def against_all(self, rows: np.ndarray) -> torch.Tensor:
        """Return `rows` (any ids) scored against every row; self-pairs and padding -inf."""
        at = torch.from_numpy(rows).to(self.vectors.device)
        out = torch.matmul(self.vectors[at], self.vectors.T)
        out[torch.arange(len(rows), device=out.device), at] = -torch.inf
        return self._without_padding(out, 0)

    def _without_padding(self, block: torch.Tensor, start: int) -> torch.Tensor:
        block[:, self.n - start:] = -torch.inf
        return block


def fast_pass(base: np.ndarray, m: int, dtype: torch.dtype, device: str,
              error: float) -> FastPass:
    """Return the vectors in `dtype` on `device`, padded to a multiple of GROUP rows."""
    n, dim = base.shape
    padded = torch.zeros((-(-n // GROUP) * GROUP, dim), dtype=dtype, device=device)
    for s in range(0, n, 65536):  # converted in slices: no full-size temporary
        part = base[s:s + 65536]
        padded[s:s + len(part)] = torch.from_numpy(part).to(device, dtype)
    return FastPass(padded, n, m, error)


def sweep_chunk(fast: FastPass, earlier: EarlierPairs, start: int, stop: int):
    """Return rows [start, stop)'s best m (scores, ids) and fences; pass later rows theirs."""
    block = fast.block(start, stop)
    row_scores, row_columns = best_along_rows(block, fast.m)
    if stop < fast.n:
        _pass_to_later_rows(block, slice(stop - start, fast.n - start), start, fast.m, earlier)
    col_scores, col_ids = earlier.take(start, stop)
    merged = torch.cat([row_scores.float().cpu(), torch.from_numpy(col_scores)], dim=1)
    merged_ids = torch.cat([row_columns.cpu() + start, torch.from_numpy(col_ids)], dim=1)
    cand_scores, at = torch.topk(merged, fast.m, dim=1)
    # Pairs dropped below a row's floor score no more than it: the fence covers them too.
    fence = np.maximum(cand_scores[:, -1].numpy(), earlier.floor[start:stop])
    return cand_scores.numpy(), merged_ids.gather(1, at).numpy(), fence


def best_along_rows(block: torch.Tensor, m: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Return each row's best min(m, width) (scores, columns) in a block GROUP-wide groups."""
    rows, width = block.shape
    groups = width // GROUP
    if groups <= 2 * m or width % GROUP:  # few groups, or rows not padded to groups
        return torch.topk(block, min(m, width), dim=1)
    maxima = block.view(rows, groups, GROUP).amax(dim=2)
    best_groups = torch.topk(maxima, m, dim=1).indices
    columns = (best_groups[:, :, None] * GROUP
               + torch.arange(GROUP, device=block.device)).view(rows, -1)
    scores, at = torch.topk(block.gather(1, columns), m, dim=1)
    return scores, columns.gather(1, at)


def _pass_to_later_rows(block: torch.Tensor, later: slice, start: int, m: int,
                        earlier: EarlierPairs) -> None:
    """Keep, for each later row (block columns in `later`), its pairs above its floor."""
    # A slab of columns at a time bounds the temporaries (the first chunks keep many pairs).
    for first in range(later.start, later.stop, SLAB):
        columns = slice(first, min(later.stop, first + SLAB))
        if start == 0:  # nothing is known of the later rows yet: take each one's best m
            _keep_best(block, columns, start, m, earlier)
        else:
            _keep_above_floor(block, columns, start, earlier)


def _keep_best(block: torch.Tensor, columns: slice, start: int, m: int,
               earlier: EarlierPairs) -> None:
    later_rows = np.arange(columns.start, columns.stop) + start
    best, at = torch.topk(block[:, columns], m, dim=0)
    earlier.add(np.repeat(later_rows, m), at.T.cpu().numpy().ravel() + start,
                best.T.float().cpu().numpy().ravel())
    earlier.raise_floor(later_rows, best[-1].float().cpu().numpy())


def _keep_above_floor(block: torch.Tensor, columns: slice, start: int,
                      earlier: EarlierPairs) -> None:
    rows, stride = block.shape
    width = columns.stop - columns.start
    first_row = start + columns.start  # the later row that column `columns.start` stands for
    floor = torch.from_numpy(earlier.floor[first_row:first_row + width]).to(block.device,
                                                                           block.dtype)
    maxima = block[:, columns].view(rows // ROW_GROUP, ROW_GROUP, width).amax(dim=1)
    # Column-major hits, so that the pairs come out ordered by the later row.
    column, group = torch.nonzero((maxima > floor).T, as_tuple=True)
    members = ((group * ROW_GROUP * stride + columns.start + column)[:, None]
               + torch.arange(ROW_GROUP, device=block.device) * stride)
    values = torch.take(block, members)
    hit, member = torch.nonzero(values > floor[column][:, None], as_tuple=True)
    earlier.add((column[hit] + first_row).cpu().numpy(),
                (group[hit] * ROW_GROUP + member + start).cpu().numpy(),
                values[hit, member].float().cpu().numpy())
