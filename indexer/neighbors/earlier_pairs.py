"""Each row's best pairs with the rows before its own chunk, kept while the sweep runs.

The exact search computes each block of scores once, for the pair (i, j) with i < j, and
reads it both ways: along rows for the chunk being processed and along columns for the rows
of later chunks. What the column reading finds waits here, one bucket per destination chunk,
until that chunk's turn comes.

Every row has a floor: a score that m of its pairs already reach, so a pair at or below it
cannot be among the row's best m and is never kept. A bucket is cut down to each row's best m
when it grows large, which raises the floors and keeps the number of kept pairs small.
"""
from __future__ import annotations

import numpy as np

BUCKET_FACTOR = 2  # a bucket is cut down past this many times m pairs per row


class EarlierPairs:
    def __init__(self, n: int, m: int, step: int):
        self.m, self.step = m, step
        self.floor = np.full(n, -np.inf, dtype=np.float32)
        chunks = -(-n // step)
        self.buckets: list[list[tuple[np.ndarray, ...]]] = [[] for _ in range(chunks)]
        self.sizes = [0] * chunks

    def add(self, rows: np.ndarray, others: np.ndarray, scores: np.ndarray) -> None:
        """Keep the pairs (row, other, score); `rows` must be in ascending order."""
        cuts = np.searchsorted(rows, np.arange(0, len(self.floor) + self.step, self.step))
        for chunk in np.flatnonzero(np.diff(cuts)):
            part = slice(cuts[chunk], cuts[chunk + 1])
            # int32 ids: 12 bytes a pair instead of 20, which keeps a 100k bf16 sweep
            # (74 candidates a row) under 2 GB.
            self.buckets[chunk].append((rows[part].astype(np.int32),
                                        others[part].astype(np.int32), scores[part]))
            self.sizes[chunk] += part.stop - part.start
            if self.sizes[chunk] > BUCKET_FACTOR * self.m * self.step:
                self._cut_down(chunk)

    def raise_floor(self, rows: np.ndarray, scores: np.ndarray) -> None:
        """Record that each of `rows` (distinct) already has m pairs at or above its score."""
        self.floor[rows] = np.maximum(self.floor[rows], scores)

    def take(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (scores, others) of rows [start, stop): their best m, -inf where fewer."""
        chunk = start // self.step
        rows, others, scores, rank = self._cut_down(chunk)
        self.buckets[chunk], self.sizes[chunk] = [], 0
        best_scores = np.full((stop - start, self.m), -np.inf, dtype=np.float32)
        best_others = np.zeros((stop - start, self.m), dtype=np.int64)
        best_scores[rows - start, rank] = scores
        best_others[rows - start, rank] = others
        return best_scores, best_others

    def _cut_down(self, chunk: int) -> tuple[np.ndarray, ...]:
        """Keep each row's best m pairs of a bucket (equal scores in any order), with ranks."""
        if not self.buckets[chunk]:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty, np.empty(0, dtype=np.float32), empty
        rows, others, scores = (np.concatenate(part) for part in zip(*self.buckets[chunk]))
        order = np.argsort(_row_then_score_key(rows, scores))
        rows, others, scores = rows[order], others[order], scores[order]
        position = np.arange(len(rows))
        starts = np.maximum.accumulate(np.where(np.r_[True, rows[1:] != rows[:-1]], position, 0))
        rank = position - starts
        keep = rank < self.m
        rows, others, scores, rank = rows[keep], others[keep], scores[keep], rank[keep]
        full = rank == self.m - 1
        self.raise_floor(rows[full], scores[full])
        self.buckets[chunk], self.sizes[chunk] = [(rows, others, scores)], len(rows)
        return rows, others, scores, rank


def _row_then_score_key(rows: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Return one uint64 per pair that sorts by row, then by score from the best down.

    One integer sort is several times faster than a lexsort of two keys. The order of equal
    scores does not matter: the candidates are re-scored and ordered afterwards, and a tie at
    the m-th place keeps the row from being certified.
    """
    bits = scores.astype(np.float32).view(np.uint32)
    ascending = np.where(bits >> 31, ~bits, bits | np.uint32(0x80000000))
    return (rows.astype(np.uint64) << np.uint64(32)) | (~ascending).astype(np.uint64)
