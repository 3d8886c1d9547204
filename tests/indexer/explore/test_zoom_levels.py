"""The map's zoom levels: at every level, one picture per occupied cell; zooming reveals all."""
import numpy as np

from indexer.explore.zoom_levels import MAX_LEVEL, as_sent, zoom_levels


def cell_keys(places: np.ndarray, level: int) -> np.ndarray:
    side = 2 ** level
    cells = np.clip(np.floor(places * side), 0, side - 1).astype(np.int64)
    return cells[:, 1] * side + cells[:, 0]


def test_every_occupied_cell_has_exactly_one_picture_at_every_level():
    rng = np.random.default_rng(3)
    # Tight families and a spread: the shapes a UMAP map of photographs has.
    places = np.concatenate([rng.normal(0.3, 0.01, (300, 2)), rng.normal(0.7, 0.002, (200, 2)),
                             rng.random((500, 2))]).clip(0, 1).astype(np.float32)
    levels = zoom_levels(places)
    sent = as_sent(places)
    for level in range(MAX_LEVEL + 1):
        keys = cell_keys(sent, level)
        pictures = keys[levels <= level]
        assert len(pictures) == len(set(pictures)) == len(set(keys)), level
    # Every image whose place as sent is its own is some cell's picture at some level, so
    # zooming in reaches it; the rest sit exactly on another image's place.
    shown = {tuple(p) for p in sent[levels <= MAX_LEVEL]}
    assert {tuple(p) for p in sent[levels > MAX_LEVEL]} <= shown
    assert len(shown) == len({tuple(p) for p in sent})


def test_the_overview_shows_the_image_nearest_the_centre():
    places = np.array([[0.1, 0.1], [0.52, 0.47], [0.9, 0.9], [0.45, 0.55]], dtype=np.float32)
    levels = zoom_levels(places)
    assert levels[1] == 0 and sorted(levels.tolist()) == [0, 1, 1, 1]


def test_places_that_round_alike_share_the_deepest_level():
    places = np.array([[0.25, 0.25], [0.25001, 0.25001], [0.75, 0.75]], dtype=np.float32)
    levels = zoom_levels(places)
    assert levels[2] < MAX_LEVEL and MAX_LEVEL + 1 in levels.tolist()
