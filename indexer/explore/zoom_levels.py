"""Which picture stands for each cell of the map at each zoom: the map's levels.

Level z cuts the unit square into 2**z x 2**z cells. Going from level 0 down, every cell that
holds no picture of a coarser level gets the image nearest its centre, which takes level z.
So each occupied cell of level z holds exactly one image of level <= z (its parent's picture
or its own): the browser draws, at level z, the images of level <= z, one per cell, and
zooming in reveals the rest. Images still sharing a cell at MAX_LEVEL (places closer than
1/16384 of the map) get MAX_LEVEL + 1: the browser shows them all at its deepest zoom.
"""
from __future__ import annotations

import numpy as np

from core.map_places import rounded

MAX_LEVEL = 14  # 16384 cells a side: finer than the 1/10000 the places are rounded to


def as_sent(places: np.ndarray) -> np.ndarray:
    """Return places rounded as /api/map sends them (float64), so cells match the browser's."""
    return np.array([[rounded(x), rounded(y)] for x, y in places], dtype=np.float64)


def zoom_levels(places: np.ndarray) -> np.ndarray:
    """Return each place's level: the coarsest zoom at which it is its cell's picture."""
    places = as_sent(places)
    levels = np.full(len(places), MAX_LEVEL + 1, dtype=np.int16)
    for level in range(MAX_LEVEL + 1):
        side = 2 ** level
        cells = np.clip(np.floor(places * side), 0, side - 1).astype(np.int64)
        keys = cells[:, 1] * side + cells[:, 0]
        taken = np.isin(keys, keys[levels <= level])
        free = np.flatnonzero(~taken)
        if not len(free):
            break
        centres = (cells[free] + 0.5) / side
        distance = ((places[free] - centres) ** 2).sum(axis=1)
        # The nearest to the centre first within each cell; ties to the earlier image.
        order = np.lexsort((free, distance, keys[free]))
        _, first = np.unique(keys[free][order], return_index=True)
        levels[free[order[first]]] = level
    return levels
