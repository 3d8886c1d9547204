"""Snap the map's places to a square grid, one image per cell (the map page's grid view).

Each image gets its own cell so that no picture hides another, and neighbours on the map stay
neighbours on the grid. Up to EXACT_CELLS cells this is the optimal linear assignment
(SciPy's linear_sum_assignment on squared distances: the total move is the least possible);
its cost grows with the cube of the size (0.7 s at 2,000 cells on a shared 2-core machine).
A larger grid is cut in two along its longer side, again and again, each half taking as
many images as it has room for, in the order of their places along that side, until the
blocks have at most BLOCK_CELLS cells; each block is then assigned exactly: 0.1 s at 3,000
images against 1.6 s, for a total move 1.36 times the optimum's on random places (the test
allows 1.5), and about 20 s at 100,000 places clustered like a UMAP map
(benchmarks/map_pictures_benchmark.py). No image is more than a block from its optimal cell.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.optimize import linear_sum_assignment

EXACT_CELLS = 2500  # the whole grid exactly: at most about a second
BLOCK_CELLS = 512   # past it, blocks of at most this many cells, each exactly


def grid_shape(count: int) -> tuple[int, int]:
    """Return (columns, rows) of the smallest near-square grid with room for `count` images."""
    columns = max(1, math.ceil(math.sqrt(count)))
    return columns, max(1, math.ceil(count / columns))


def snap_to_grid(places: np.ndarray) -> np.ndarray:
    """Return each place's (column, row) on the grid: int32, no two the same."""
    columns, rows = grid_shape(len(places))
    # Places in [0, 1] stretched over the grid, so the layout's shape fills it.
    low, span = places.min(axis=0), np.ptp(places, axis=0)
    scaled = (places - low) / np.where(span > 0, span, 1) * np.array([columns, rows])
    cells = np.zeros((len(places), 2), dtype=np.int32)
    block = EXACT_CELLS if columns * rows <= EXACT_CELLS else BLOCK_CELLS
    assign(scaled, np.arange(len(places)), (0, 0, columns, rows), cells, block)
    return cells


def assign(scaled: np.ndarray, members: np.ndarray, block: tuple, cells: np.ndarray,
           exact_cells: int) -> None:
    """Give each of `members` a cell of `block` (x, y, width, height), writing into `cells`;
    exactly once the block has at most `exact_cells` cells."""
    x, y, width, height = block
    if not len(members):
        return
    if width * height <= exact_cells:
        columns, rows = np.meshgrid(np.arange(x, x + width), np.arange(y, y + height))
        centres = np.stack([columns.ravel(), rows.ravel()], axis=1) + 0.5
        cost = ((scaled[members, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
        chosen_rows, chosen_cells = linear_sum_assignment(cost)
        cells[members[chosen_rows]] = centres[chosen_cells] - 0.5
        return
    axis = 0 if width >= height else 1
    cut = (width if axis == 0 else height) // 2
    first = (x, y, cut, height) if axis == 0 else (x, y, width, cut)
    second = (x + cut, y, width - cut, height) if axis == 0 else (x, y + cut, width, height - cut)
    room_first, room_second = first[2] * first[3], second[2] * second[3]
    # Each half takes its share of the images, never more than it has cells for.
    share = round(len(members) * room_first / (room_first + room_second))
    share = min(room_first, max(len(members) - room_second, share))
    order = members[np.argsort(scaled[members, axis], kind="stable")]
    assign(scaled, order[:share], first, cells, exact_cells)
    assign(scaled, order[share:], second, cells, exact_cells)
