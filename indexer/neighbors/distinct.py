"""Each image's copies, and a list of k distinct images for its page's "Most similar".

A list of recommendations that starts with the image's own copies (or holds three copies of
one other picture) shows a user the same picture again and again. For each image whose
stored list holds a copy, of the image or of another image listed, this searches more
candidates and keeps, best first:
- its copies: the same content, or a cosine at or above the near-duplicate threshold;
- k distinct images: none a copy of the image, none a copy of an image listed before it.
Every other image's list is already distinct and it has no copies: nothing is stored for it.

"A copy" is one rule everywhere (`Copies`): the same content, or a cosine at or above the
threshold whose pixels match too (core/pixel_match.py); the duplicates page groups by the
copies stored here.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from threadpoolctl import threadpool_limits

from .small import top_k_of_selected

CANDIDATES_PER_K = 5  # candidates searched per wanted distinct image (a family of 5 copies)
ROWS_AT_ONCE = 1024   # rows whose lists are checked at a time: bounds the (rows, k, k, d) work


class Related(NamedTuple):
    """Rows to store: (row, kind, rank, other row, score), kind "copy" or "distinct"."""
    rows: list[tuple[int, str, int, int, float]]
    images: int          # how many images have rows
    short: int           # how many of them found fewer than k distinct images


class Copies:
    """The copy rule over a build's images (by row): same content, or near and same pixels.

    `same_pixels(row_a, row_b)` is asked only of pairs whose cosine reaches the threshold
    (a few per image), and each pair once.
    """

    def __init__(self, units: np.ndarray, hashes: list[str], threshold: float | None,
                 same_pixels: Callable[[int, int], bool]):
        self.units, self.threshold, self.same_pixels = units, threshold, same_pixels
        self.codes = np.unique(np.array(hashes), return_inverse=True)[1]
        self.verdicts: dict[tuple[int, int], bool] = {}

    def matrix(self, rows_a: np.ndarray, rows_b: np.ndarray) -> np.ndarray:
        """Return whether each (a, b) is a copy, for row arrays (..., A) and (..., B).

        Without a threshold (random weights, a raw-feature metric) only the same content is.
        """
        same = self.codes[rows_a][..., :, None] == self.codes[rows_b][..., None, :]
        if self.threshold is None:
            return same
        cosines = np.matmul(self.units[rows_a][..., :, :],
                            np.swapaxes(self.units[rows_b], -1, -2))
        near = (cosines >= self.threshold) & ~same
        firsts = np.broadcast_to(rows_a[..., :, None], near.shape)[near]
        seconds = np.broadcast_to(rows_b[..., None, :], near.shape)[near]
        near[near] = [a != b and self.verdict(a, b)
                      for a, b in zip(firsts.tolist(), seconds.tolist())]
        return same | near

    def verdict(self, a: int, b: int) -> bool:
        key = (a, b) if a < b else (b, a)
        if key not in self.verdicts:
            self.verdicts[key] = self.same_pixels(*key)
        return self.verdicts[key]


def rows_with_copies(copies: Copies, ids: np.ndarray) -> np.ndarray:
    """Return the rows whose list holds a copy of the row, or two copies of each other."""
    found = []
    for start in range(0, len(ids), ROWS_AT_ONCE):
        rows = np.arange(start, min(len(ids), start + ROWS_AT_ONCE))
        listed = ids[rows]
        own = copies.matrix(rows[:, None], listed)[:, 0, :]
        among = copies.matrix(listed, listed) & ~np.eye(ids.shape[1], dtype=bool)
        found.append(rows[own.any(axis=1) | among.any(axis=(1, 2))])
    return np.concatenate(found) if found else np.empty(0, dtype=np.int64)


def related_images(copies: Copies, vectors: np.ndarray, ids: np.ndarray, k: int,
                   metric: str = "cosine") -> Related:
    """Return the copies and distinct lists of the images whose list (`ids`) needs them.

    `vectors` are what the lists rank by (`metric`), so a distinct list is ordered as the
    stored one is.
    """
    n = len(vectors)
    if ids.shape[1] == 0:
        return Related([], 0, 0)
    # Thousands of tiny products: BLAS's threads cost more than they give (ten times more
    # on a busy machine), so one thread.
    with threadpool_limits(1, "blas"):
        chosen = rows_with_copies(copies, ids)
    if not len(chosen):
        return Related([], 0, 0)
    wanted = min(n - 1, max(ids.shape[1], CANDIDATES_PER_K * k))
    base = np.ascontiguousarray(vectors, dtype=np.float32)
    candidates, scores = top_k_of_selected(base, chosen, wanted, metric)
    with threadpool_limits(1, "blas"):  # see rows_with_copies
        rows, short = split_all(copies, chosen, candidates, scores, k, n)
    return Related(rows, len(chosen), short)


def split_all(copies: Copies, chosen: np.ndarray, candidates: np.ndarray,
              scores: np.ndarray, k: int, n: int) -> tuple[list[tuple], int]:
    """Return the rows to store of every chosen image, and how many found < k distinct."""
    rows, short = [], 0
    for row, others, values in zip(chosen, candidates, scores):
        own, distinct = split(copies, row, others, k)
        rows += [(int(row), "copy", rank, int(others[i]), float(values[i]))
                 for rank, i in enumerate(own)]
        rows += [(int(row), "distinct", rank, int(others[i]), float(values[i]))
                 for rank, i in enumerate(distinct)]
        short += len(distinct) < min(k, n - 1 - len(own))
    return rows, short


def split(copies: Copies, row: int, others: np.ndarray, k: int
          ) -> tuple[list[int], list[int]]:
    """Return (the candidates that are copies of `row`, the first k distinct ones), as
    positions into `others` (best first)."""
    mine = copies.matrix(np.array([row]), others)[0]
    between = copies.matrix(others, others)
    own = [int(i) for i in np.flatnonzero(mine)]
    distinct: list[int] = []
    for i in np.flatnonzero(~mine):
        if len(distinct) == k:
            break
        if not any(between[i, j] for j in distinct):
            distinct.append(int(i))
    return own, distinct
