"""What the map page needs beyond the places: zoom levels, the grid view, the atlases.

Run once per build after the explore stage, from the places it made (runner.py).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .atlases import Atlases, write_atlases
from .grid import grid_shape, snap_to_grid
from .zoom_levels import zoom_levels


@dataclass
class MapPictures:
    levels: np.ndarray       # per image, on the scatter
    grid: np.ndarray         # (N, 2) float: the centre of its grid cell, in [0, 1]
    grid_levels: np.ndarray  # per image, on the grid
    atlases: Atlases
    timings: dict


def grid_places(places: np.ndarray) -> np.ndarray:
    """Return the centres, in [0, 1], of the grid cells the places snap to (square cells)."""
    side = max(grid_shape(len(places)))
    return (snap_to_grid(places) + 0.5) / side


def map_pictures(places: np.ndarray, hashes: list[str], thumbnail_dir: str) -> MapPictures:
    """Work out the levels and grid of a build's map and write the atlases it lacks."""
    tick = time.perf_counter()
    levels = zoom_levels(places)
    grid = grid_places(places)
    grid_levels = zoom_levels(grid)
    layout_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    # Sheets filled by the coarser of an image's two levels: both views' overviews come
    # from the first sheets.
    atlases = write_atlases(thumbnail_dir, hashes, places, np.minimum(levels, grid_levels))
    return MapPictures(levels, grid, grid_levels, atlases,
                       {"map_grid_seconds": layout_seconds,
                        "atlas_seconds": time.perf_counter() - tick,
                        "atlas_sheets_written": atlases.written})
