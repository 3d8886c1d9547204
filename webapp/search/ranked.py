"""Search by upload in the ranking space the job learned from the collection, NumPy only.

A build ranked after whitening and augmentation (indexer/ranking) stores both; the web
applies them to its matrix once per worker and to each upload: the upload is whitened, then
expanded by its best few augmented images (alpha query expansion), as the job augmented each
image by its nearest few. Past the approximate index's size it applies them to the index's
candidates only (learned_vectors; webapp/search/mapped_index.py). `score` is the similarity
in that space, what the results are ordered by; `cosine` the raw cosine, what the tiers are
named by.
"""
from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from core.db import db
from core.ranking import Whitening, augmented, expanded_query
from core.records import BuildRanking

from ..serving.active_index import ServedIndex
from .exact import SCORE_CHUNK_ROWS, LoadedMatrix, Match, QueryEmbedder, search_matrix, top_k


@dataclass
class LearnedSpace:
    """A ranked build's whitening and augmentation, as its BuildRanking row stores them."""
    whitening: Whitening | None
    neighbours: np.ndarray | None  # N x n gallery positions each image was augmented with
    weights: np.ndarray | None     # their weights
    expand_by: int                 # how many best rows expand a query (0: no augmentation)
    alpha: float

    def query(self, unit: np.ndarray) -> np.ndarray:
        """Return an upload's unit vector in the learned space (whitened, not expanded)."""
        return self.whitening.apply(unit[None])[0] if self.whitening else unit

    def whiten(self, units: np.ndarray) -> np.ndarray:
        """Return raw unit rows whitened (float32), converted a chunk at a time."""
        rows = np.empty((len(units), self.whitening.dim if self.whitening else
                         units.shape[1]), np.float32)
        for start in range(0, len(rows), SCORE_CHUNK_ROWS):
            chunk = units[start:start + SCORE_CHUNK_ROWS].astype(np.float32)
            rows[start:start + len(chunk)] = self.whitening.apply(chunk) if self.whitening \
                else chunk
        return rows


def learned_space(served: ServedIndex) -> LearnedSpace | None:
    """Return this worker's copy of the build's learned space, or None for a raw build."""
    def load(served: ServedIndex) -> LearnedSpace | None:
        if served.build.ranking == "raw":
            return None
        stored = db.session.get(BuildRanking, served.build.id)
        return None if stored is None else stored_space(stored)
    return served.derived("learned_space", load)


def stored_space(stored: BuildRanking) -> LearnedSpace:
    """Return the learned space a BuildRanking row stores (its arrays read from their .npz)."""
    whitening = Whitening.from_bytes(stored.whitening) if stored.whitening else None
    neighbours = weights = None
    if stored.augmentation:
        with np.load(io.BytesIO(stored.augmentation)) as arrays:
            neighbours, weights = arrays["neighbours"], arrays["weights"]
    return LearnedSpace(whitening, neighbours, weights,
                        stored.settings["neighbours"] if neighbours is not None else 0,
                        stored.settings["alpha"])


@dataclass
class RankedMatrix:
    space: LearnedSpace
    matrix: np.ndarray  # float16 unit rows in the learned space, gallery order


def products(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Return matrix @ query in float32, the float16 rows converted a chunk at a time."""
    out = np.empty(len(matrix), np.float32)
    for start in range(0, len(matrix), SCORE_CHUNK_ROWS):
        out[start:start + SCORE_CHUNK_ROWS] = (
            matrix[start:start + SCORE_CHUNK_ROWS].astype(np.float32) @ query)
    return out


def ranked_matrix(served: ServedIndex) -> RankedMatrix | None:
    """Return this worker's matrix in the build's learned space, or None for a raw build."""
    def load(served: ServedIndex) -> RankedMatrix | None:
        space = learned_space(served)
        return None if space is None else learned_matrix(space, search_matrix(served))
    return served.derived("ranked_matrix", load)


def learned_matrix(space: LearnedSpace, loaded: LoadedMatrix) -> RankedMatrix:
    """Apply a build's whitening and augmentation to its loaded raw matrix."""
    rows = space.whiten(loaded.matrix)
    if space.neighbours is not None:
        rows = augmented(rows, space.neighbours, space.weights)
    return RankedMatrix(space, rows.astype(np.float16))


def ranked_search(embedder: QueryEmbedder, loaded: LoadedMatrix, ranked: RankedMatrix,
                  pixels: np.ndarray, k: int) -> list[Match]:
    """Return the k images closest to a model input in the learned space, best first."""
    unit, _ = embedder.embed(pixels)
    space = ranked.space
    query = space.query(unit)
    scores = products(ranked.matrix, query)
    if space.expand_by:
        query = expanded_query(query, ranked.matrix, scores, space.expand_by, space.alpha)
        scores = products(ranked.matrix, query)
    scores = np.clip(scores, -1.0, 1.0)
    best = top_k(scores, k)
    cosines = np.clip(products(loaded.matrix[best], unit), -1.0, 1.0)
    return [Match(int(loaded.image_ids[i]), float(scores[i]), float(c))
            for i, c in zip(best, cosines)]


def learned_vectors(space: LearnedSpace, rows: dict, units: dict, positions: np.ndarray
                    ) -> np.ndarray:
    """Return the learned-space vectors of the images at gallery `positions` (float32).

    Past the approximate index's size no worker holds the matrix: each candidate is whitened
    and augmented from its own raw vector and its neighbours' (`units`: by content hash,
    `rows`: by position, both covering the neighbours too), the arithmetic the job did.
    """
    if space.neighbours is None:
        return space.whiten(np.stack([units[rows[p].content_hash] for p in positions]))
    neighbours = space.neighbours[positions]
    needed = np.unique(np.concatenate([positions, neighbours.ravel()]))
    whitened = space.whiten(np.stack([units[rows[p].content_hash] for p in needed]))
    return augmented(whitened, np.searchsorted(needed, neighbours), space.weights[positions],
                     rows=np.searchsorted(needed, positions))
