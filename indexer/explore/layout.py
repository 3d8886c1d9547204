"""Place a build's images on a 2-D map with UMAP (default) or t-SNE, scaled into [0, 1].

Memory and time stay bounded on big collections: UMAP is fitted on a sample of at most
FIT_SAMPLE vectors and the rest are placed with its `transform` (the embedding of new points
into a fitted map), a chunk at a time. scikit-learn's t-SNE has no transform, so past
TSNE_SAMPLE the others are placed at the similarity-weighted mean of their nearest sampled
vectors' places.
"""
from __future__ import annotations

import warnings

import numpy as np

from .compiled_code import import_umap_class
from .sampling import bounded_sample

METHODS = ("umap", "tsne", "none")
FIT_SAMPLE = 20_000      # UMAP learns the map from at most this many vectors
TRANSFORM_CHUNK = 20_000
TSNE_SAMPLE = 10_000     # Barnes-Hut t-SNE is minutes past this on 2 cores
NEAREST_PLACED = 3       # sampled neighbours whose places an unsampled vector's place averages
MIN_FIT_IMAGES = 5       # fewer: on a circle (both methods need a few neighbours to work with)
UMAP_NEIGHBORS = 15      # UMAP's default: local enough for photo families, global enough to map
# UMAP's own choice past 10k points; below that it runs 500. On 1000 Lite0 vectors 200 took
# 1.07 s against 1.53 s, with trustworthiness@10 0.991 against 0.993 (README, Performance).
UMAP_EPOCHS = 200
SEED = 1234


def project(vectors: np.ndarray, method: str, seed: int = SEED) -> np.ndarray | None:
    """Return one (x, y) in [0, 1] per vector, float32 (None for method "none")."""
    if method == "none":
        return None
    if method not in METHODS:
        raise ValueError(f"unknown map method {method!r}: one of {', '.join(METHODS)}")
    if len(vectors) < MIN_FIT_IMAGES:
        return normalise(circle(len(vectors)))
    place = umap_places if method == "umap" else tsne_places
    return normalise(place(np.ascontiguousarray(vectors, dtype=np.float32), seed))


def umap_places(vectors: np.ndarray, seed: int) -> np.ndarray:
    """Fit UMAP on a bounded sample; transform the other vectors a chunk at a time."""
    # Deferred: umap imports numba and pynndescent (seconds), which only this method needs.
    UMAP = import_umap_class()
    fitted = bounded_sample(len(vectors), FIT_SAMPLE, seed)
    model = UMAP(n_neighbors=min(UMAP_NEIGHBORS, len(fitted) - 1), n_epochs=UMAP_EPOCHS,
                 random_state=seed, n_jobs=1)  # a seeded UMAP runs on one thread anyway; saying so silences it
    places = np.empty((len(vectors), 2), dtype=np.float32)
    with warnings.catch_warnings():
        # Small collections make it warn that the spectral start or the graph is degenerate;
        # it falls back by itself and the map is still drawn.
        warnings.simplefilter("ignore")
        places[fitted] = model.fit_transform(vectors[fitted])
        rest = np.setdiff1d(np.arange(len(vectors)), fitted)
        for start in range(0, len(rest), TRANSFORM_CHUNK):
            rows = rest[start:start + TRANSFORM_CHUNK]
            places[rows] = model.transform(vectors[rows])
    return places


def tsne_places(vectors: np.ndarray, seed: int) -> np.ndarray:
    """Run t-SNE on a bounded sample; place the others by their nearest sampled vectors."""
    from sklearn.manifold import TSNE
    fitted = bounded_sample(len(vectors), TSNE_SAMPLE, seed)
    perplexity = min(30.0, (len(fitted) - 1) / 3)
    places = np.empty((len(vectors), 2), dtype=np.float32)
    places[fitted] = TSNE(n_components=2, perplexity=perplexity, init="pca",
                          random_state=seed).fit_transform(vectors[fitted])
    rest = np.setdiff1d(np.arange(len(vectors)), fitted)
    for start in range(0, len(rest), TRANSFORM_CHUNK):
        rows = rest[start:start + TRANSFORM_CHUNK]
        places[rows] = place_near(vectors[rows], vectors[fitted], places[fitted])
    return places


def place_near(vectors: np.ndarray, known: np.ndarray, known_places: np.ndarray) -> np.ndarray:
    """Return the similarity-weighted mean place of each vector's nearest `known` vectors."""
    scores = vectors @ known.T
    count = min(NEAREST_PLACED, known.shape[0])
    nearest = np.argpartition(-scores, count - 1, axis=1)[:, :count]
    weights = np.maximum(np.take_along_axis(scores, nearest, axis=1), 1e-6)
    weights /= weights.sum(axis=1, keepdims=True)
    return (known_places[nearest] * weights[:, :, None]).sum(axis=1)


def circle(n: int) -> np.ndarray:
    """Return n places evenly on a circle (one alone at the centre)."""
    if n == 1:
        return np.zeros((1, 2), dtype=np.float32)
    angles = 2 * np.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def normalise(places: np.ndarray) -> np.ndarray:
    """Scale places into [0, 1] keeping their shape (one scale for both axes), centred."""
    if not np.isfinite(places).all():
        raise ValueError("the map has non-finite coordinates")
    low = places.min(axis=0)
    span = float((places.max(axis=0) - low).max())
    if span == 0:
        return np.full(places.shape, 0.5, dtype=np.float32)
    scaled = (places - low) / span
    scaled += (1 - scaled.max(axis=0)) / 2  # the shorter axis is centred
    return np.clip(scaled, 0, 1).astype(np.float32)
