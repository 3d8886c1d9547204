"""The grid view: one image per cell, neighbours kept, exact up to a size and close past it."""
import itertools

import numpy as np
import pytest

from indexer.explore import grid
from indexer.explore.map_pictures import grid_places


def cost(places: np.ndarray, cells: np.ndarray) -> float:
    columns, rows = grid.grid_shape(len(places))
    low, span = places.min(axis=0), np.ptp(places, axis=0)
    scaled = (places - low) / span * np.array([columns, rows])
    return float(((scaled - (cells + 0.5)) ** 2).sum())


@pytest.mark.parametrize("count", [1, 2, 7, 121, 1000, 3000])
def test_each_image_gets_a_cell_of_its_own_inside_the_grid(count):
    places = np.random.default_rng(count).random((count, 2)).astype(np.float32)
    cells = grid.snap_to_grid(places)
    columns, rows = grid.grid_shape(count)
    assert columns * rows >= count and (columns - 1) * rows < count or count == 1
    assert len({tuple(c) for c in cells}) == count
    assert cells.min() >= 0 and cells[:, 0].max() < columns and cells[:, 1].max() < rows


def test_a_small_grid_is_the_least_total_move():
    places = np.random.default_rng(5).random((6, 2)).astype(np.float32)
    cells = grid.snap_to_grid(places)
    all_cells = np.array([(x, y) for y in range(2) for x in range(3)])
    best = min(cost(places, all_cells[list(p)]) for p in itertools.permutations(range(6)))
    assert cost(places, cells) == pytest.approx(best)


def test_places_already_on_a_grid_stay_where_they_are():
    columns, rows = grid.grid_shape(3000)  # past EXACT_CELLS: the split-then-assign path
    xs, ys = np.meshgrid(np.arange(columns), np.arange(rows))
    cells = np.stack([xs.ravel(), ys.ravel()], axis=1)
    order = np.random.default_rng(1).permutation(len(cells))
    places = (cells[order] + 0.5).astype(np.float32)
    assert (grid.snap_to_grid(places) == cells[order]).all()


def test_past_the_exact_size_images_move_little_more_than_the_exact_assignment():
    places = np.random.default_rng(2).random((3000, 2)).astype(np.float32)
    assert grid.grid_shape(3000)[0] ** 2 > grid.EXACT_CELLS  # the blocks' path
    approximate = cost(places, grid.snap_to_grid(places))
    limit = grid.EXACT_CELLS
    try:
        grid.EXACT_CELLS = 10_000
        exact = cost(places, grid.snap_to_grid(places))
    finally:
        grid.EXACT_CELLS = limit
    assert exact <= approximate <= 1.5 * exact


def test_grid_places_are_cell_centres_in_the_unit_square():
    places = np.random.default_rng(4).random((121, 2)).astype(np.float32)
    centres = grid_places(places)
    assert centres.min() > 0 and centres.max() < 1
    assert len({tuple(c) for c in np.round(centres * 11 - 0.5).astype(int)}) == 121
