"""Search the active index by an uploaded image, without torch: onnxruntime and NumPy.

Each worker loads, on its first search, the ONNX embedder the job exported and the served
build's embeddings (float16, in gallery order), and keeps them with the served index
(webapp/serving/active_index.py), so a build published later brings its own. A search is one
embedding, one matrix product and one argpartition.
"""
from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from flask import current_app
from sqlalchemy import select

from core.db import db
from core.imaging import DecodedInput, Preprocessing
from core.metrics import closeness, from_cosine
from core.metrics import unit_rows
from core.records import Build, Embedding, IndexedImage, StoredEmbedder

from ..serving.active_index import ServedIndex

if TYPE_CHECKING:
    import onnxruntime as ort

log = logging.getLogger(__name__)
SCORE_CHUNK_ROWS = 4096  # float32 copies of 8 MB: stay in cache, no big transient per query
LOAD_BATCH_ROWS = 10_000


class SearchUnavailable(Exception):
    """The active index cannot be searched: there is none, or it predates search."""


@dataclass
class QueryEmbedder:
    """The job's embedder as an onnxruntime session, and the float16 scorer beside it."""

    model_key: str
    session: ort.InferenceSession
    scorer: ort.InferenceSession
    preprocessing: Preprocessing

    @classmethod
    def load(cls, model_key: str, threads: int) -> QueryEmbedder:
        # Imported on the first search: workers that only serve pages never load it.
        import onnxruntime as ort
        stored = db.session.get(StoredEmbedder, model_key)
        if stored is None:
            raise SearchUnavailable("this index was built before search by image existed; "
                                    "re-run scripts/build_index.py to enable it")
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # Spinning threads would keep a core busy after each search, taken from page requests.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        return cls(model_key, ort.InferenceSession(stored.onnx, options, providers=providers),
                   ort.InferenceSession(stored.scorer_onnx, options, providers=providers),
                   Preprocessing.from_dict(stored.preprocessing))

    def model_input(self, data: bytes, max_pixels: int) -> DecodedInput:
        """Decode an encoded image and cut the model's input from it, as the job does.

        Raises whatever Pillow raises for data it cannot decode.
        """
        # The job's own preprocessing (decode size, JPEG draft scaling, crop, resampling), so
        # a collection file gives the web the pixels it gave the job.
        return self.preprocessing.model_input(io.BytesIO(data), max_pixels)

    def embed(self, pixels: np.ndarray) -> tuple[np.ndarray, float]:
        """Return the L2-normalised float32 embedding of a model input (uint8 HxWx3), and the
        length of the model's features before normalising."""
        features = self.session.run(None, {"pixels": pixels[None]})[0]
        unit, norms = unit_rows(features)
        return unit[0], float(norms[0])

    def scores(self, matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
        """Return matrix @ query in float32, the float16 rows converted chunk by chunk."""
        out = np.empty(len(matrix), np.float32)
        column = np.ascontiguousarray(query[:, None])
        for start in range(0, len(matrix), SCORE_CHUNK_ROWS):
            rows = matrix[start:start + SCORE_CHUNK_ROWS]
            out[start:start + len(rows)] = self.scorer.run(None, {"rows": rows,
                                                                  "query": column})[0][:, 0]
        return out


@dataclass
class LoadedMatrix:
    image_ids: np.ndarray  # int64, gallery order
    matrix: np.ndarray     # float16 unit vectors, one row per image id
    norms: np.ndarray      # float32 length of each image's features (euclidean, dot)
    metric: str = "cosine"

    @property
    def nbytes(self) -> int:
        return self.image_ids.nbytes + self.matrix.nbytes + self.norms.nbytes


def load_matrix(build: Build) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (image ids, float16 embeddings, their lengths) of a build, in gallery order,
    streamed."""
    rows = db.session.execute(
        select(IndexedImage.image_id, Embedding.vector, Embedding.norm)
        .join(Embedding, (Embedding.content_hash == IndexedImage.content_hash)
              & (Embedding.model_key == build.model_key))
        .where(IndexedImage.build_id == build.id)
        .order_by(IndexedImage.position)
        .execution_options(yield_per=LOAD_BATCH_ROWS))
    ids = np.empty(build.image_count, np.int64)
    norms = np.empty(build.image_count, np.float32)
    matrix, filled = None, 0
    for batch in rows.partitions():
        block = np.frombuffer(b"".join(v for _, v, _ in batch),
                              np.float32).reshape(len(batch), -1)
        if matrix is None:  # filled in place: a 1 GB index never needs 2 GB to load
            matrix = np.empty((build.image_count, block.shape[1]), np.float16)
        matrix[filled:filled + len(batch)] = block
        ids[filled:filled + len(batch)] = [image_id for image_id, _, _ in batch]
        # NULL (stored before lengths were kept) only in cosine builds, which never read it.
        norms[filled:filled + len(batch)] = [np.nan if n is None else n for _, _, n in batch]
        filled += len(batch)
    if matrix is None:
        return ids[:0], np.empty((0, 0), np.float16), norms[:0]
    return ids[:filled], matrix[:filled], norms[:filled]


def query_embedder(served: ServedIndex) -> QueryEmbedder:
    """Return this worker's ONNX embedder of the served build, loaded on first use."""
    def load(served: ServedIndex) -> QueryEmbedder:
        if served.build is None:
            raise SearchUnavailable("there is no index to search yet: run "
                                    "scripts/build_index.py")
        return QueryEmbedder.load(served.build.model_key, current_app.config["SEARCH_THREADS"])
    return served.derived("query_embedder", load)


def search_matrix(served: ServedIndex) -> LoadedMatrix:
    """Return this worker's embeddings of the served build, loaded on first use (seconds)."""
    def load(served: ServedIndex) -> LoadedMatrix:
        loaded = LoadedMatrix(*load_matrix(served.build), metric=served.build.metric)
        log.info("loaded build %d for search: %d images, %.1f MB", served.build.id,
                 len(loaded.image_ids), loaded.nbytes / 1e6)
        return loaded
    return served.derived("search_matrix", load)


@dataclass
class Match:
    image_id: int
    score: float                 # what the results are ordered by (the build's metric or space)
    cosine: float | None = None  # the raw cosine of the two embeddings: what tiers use


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the k highest scores, best first, ties in gallery order."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((top, -scores[top]))]


def search(embedder: QueryEmbedder, loaded: LoadedMatrix, pixels: np.ndarray,
           k: int) -> list[Match]:
    """Return the k images of the index closest to a model input, best first, scored by
    the index's metric."""
    query, query_norm = embedder.embed(pixels)
    cosines = embedder.scores(loaded.matrix, query)
    if loaded.metric == "cosine":
        # float16 rows are unit length only to ~1e-3: clip so that no score reads above 1.
        values = np.clip(cosines, -1.0, 1.0)
    else:
        values = from_cosine(cosines, loaded.norms, query_norm, loaded.metric)
    return [Match(int(loaded.image_ids[i]), float(values[i]), float(min(cosines[i], 1.0)))
            for i in top_k(closeness(values, loaded.metric), k)]
