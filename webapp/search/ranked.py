"""Search by upload in the ranking space the job learned from the collection, NumPy only.

A build ranked after whitening and augmentation (indexer/ranking) stores both; the web
applies them to its matrix once per worker and to each upload: the upload is whitened, then
expanded by its best few augmented images (alpha query expansion), as the job augmented each
image by its nearest few. `score` is the similarity in that space, what the results are
ordered by; `cosine` the raw cosine, what the tiers are named by.
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
class RankedMatrix:
    whitening: Whitening | None
    matrix: np.ndarray  # float16 unit rows in the learned space, gallery order
    expand_by: int      # how many best rows expand a query (0: no augmentation)
    alpha: float

    def query(self, unit: np.ndarray) -> np.ndarray:
        """Return an upload's unit vector in the learned space (whitened, not expanded)."""
        return self.whitening.apply(unit[None])[0] if self.whitening else unit


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
        if served.build.ranking == "raw":
            return None
        stored = db.session.get(BuildRanking, served.build.id)
        if stored is None:
            return None
        return learned_matrix(stored, search_matrix(served))
    return served.derived("ranked_matrix", load)


def learned_matrix(stored: BuildRanking, loaded: LoadedMatrix) -> RankedMatrix:
    """Apply a build's whitening and augmentation to its loaded raw matrix."""
    whitening = Whitening.from_bytes(stored.whitening) if stored.whitening else None
    rows = np.empty((len(loaded.matrix), whitening.dim if whitening else
                     loaded.matrix.shape[1]), np.float32)
    for start in range(0, len(rows), SCORE_CHUNK_ROWS):
        chunk = loaded.matrix[start:start + SCORE_CHUNK_ROWS].astype(np.float32)
        rows[start:start + len(chunk)] = whitening.apply(chunk) if whitening else chunk
    expand_by = 0
    if stored.augmentation:
        with np.load(io.BytesIO(stored.augmentation)) as arrays:
            rows = augmented(rows, arrays["neighbours"], arrays["weights"])
        expand_by = stored.settings["neighbours"]
    return RankedMatrix(whitening, rows.astype(np.float16), expand_by,
                        stored.settings["alpha"])


def ranked_search(embedder: QueryEmbedder, loaded: LoadedMatrix, ranked: RankedMatrix,
                  pixels: np.ndarray, k: int) -> list[Match]:
    """Return the k images closest to a model input in the learned space, best first."""
    unit, _ = embedder.embed(pixels)
    query = ranked.query(unit)
    scores = products(ranked.matrix, query)
    if ranked.expand_by:
        query = expanded_query(query, ranked.matrix, scores, ranked.expand_by, ranked.alpha)
        scores = products(ranked.matrix, query)
    scores = np.clip(scores, -1.0, 1.0)
    best = top_k(scores, k)
    cosines = np.clip(products(loaded.matrix[best], unit), -1.0, 1.0)
    return [Match(int(loaded.image_ids[i]), float(scores[i]), float(c))
            for i, c in zip(best, cosines)]
