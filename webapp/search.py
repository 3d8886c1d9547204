"""Search the active index by an uploaded image, without torch: onnxruntime and NumPy.

Each worker loads, lazily and once, the ONNX embedder the job exported and the active
build's embeddings (float16, in gallery order). A build published later is picked up by the
next search. A search is one embedding, one matrix product and one argpartition.
"""
from __future__ import annotations

import io
import logging
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from flask import current_app
from sqlalchemy import select

from .db import db
from .imaging import THUMBNAIL_SIZE, center_crop, open_rgb
from .models import Build, Embedding, IndexedImage, StoredEmbedder
from .pipeline.scan import content_hasher  # hashlib only: no torch

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
    resize: int
    crop: int

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
                   stored.preprocessing["resize"], stored.preprocessing["crop"])

    def embed(self, data: bytes, max_pixels: int) -> np.ndarray:
        """Return the L2-normalised float32 embedding of an encoded image."""
        # The job decodes at this size too (for the thumbnail), so JPEG draft scaling, and
        # so the crop, is the same for a collection file as the job's.
        decoded = open_rgb(io.BytesIO(data), max(self.resize, THUMBNAIL_SIZE), max_pixels)
        crop = center_crop(decoded.rgb, self.resize, self.crop)
        return self.session.run(None, {"pixels": crop[None]})[0][0]

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
class LoadedIndex:
    build_id: int
    embedder: QueryEmbedder
    image_ids: np.ndarray  # int64, gallery order
    matrix: np.ndarray     # float16 unit vectors, one row per image id

    @property
    def nbytes(self) -> int:
        return self.image_ids.nbytes + self.matrix.nbytes


def load_matrix(build: Build) -> tuple[np.ndarray, np.ndarray]:
    """Return (image ids, float16 embeddings) of a build, in gallery order, streamed."""
    rows = db.session.execute(
        select(IndexedImage.image_id, Embedding.vector)
        .join(Embedding, (Embedding.content_hash == IndexedImage.content_hash)
              & (Embedding.model_key == build.model_key))
        .where(IndexedImage.build_id == build.id)
        .order_by(IndexedImage.position)
        .execution_options(yield_per=LOAD_BATCH_ROWS))
    ids = np.empty(build.image_count, np.int64)
    matrix, filled = None, 0
    for batch in rows.partitions():
        block = np.frombuffer(b"".join(v for _, v in batch), np.float32).reshape(len(batch), -1)
        if matrix is None:  # filled in place: a 1 GB index never needs 2 GB to load
            matrix = np.empty((build.image_count, block.shape[1]), np.float16)
        matrix[filled:filled + len(batch)] = block
        ids[filled:filled + len(batch)] = [image_id for image_id, _ in batch]
        filled += len(batch)
    if matrix is None:
        return ids[:0], np.empty((0, 0), np.float16)
    return ids[:filled], matrix[:filled]


def loaded_index(build: Build) -> LoadedIndex:
    """Return this worker's copy of `build`'s index, loading it if the active build changed.

    Kept on the app (one per worker): two apps in one process (tests) never share it.
    """
    slot = current_app.extensions.setdefault("search_index", {"lock": threading.Lock(),
                                                              "index": None})
    with slot["lock"]:
        loaded = slot["index"]
        if loaded is None or loaded.build_id != build.id:
            embedder = (loaded.embedder if loaded and loaded.embedder.model_key ==
                        build.model_key else
                        QueryEmbedder.load(build.model_key, current_app.config["SEARCH_THREADS"]))
            slot["index"] = loaded = None  # let the old matrix go before the new one is read
            image_ids, matrix = load_matrix(build)
            slot["index"] = loaded = LoadedIndex(build.id, embedder, image_ids, matrix)
            log.info("loaded build %d for search: %d images, %.1f MB", build.id,
                     len(image_ids), loaded.nbytes / 1e6)
        return loaded


@dataclass
class Match:
    image_id: int
    score: float


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the positions of the k highest scores, best first, ties in gallery order."""
    k = min(k, len(scores))
    if k <= 0:
        return np.empty(0, np.int64)
    top = np.argpartition(-scores, k - 1)[:k]
    return top[np.lexsort((top, -scores[top]))]


def search(build: Build, data: bytes, k: int, max_pixels: int) -> list[Match]:
    """Return the k images of `build` most similar to the encoded image `data`, best first."""
    index = loaded_index(build)
    query = index.embedder.embed(data, max_pixels)
    scores = index.embedder.scores(index.matrix, query)
    # float16 rows are unit length only to ~1e-3: clip so that no score reads above 1.
    return [Match(int(index.image_ids[i]), float(np.clip(scores[i], -1.0, 1.0)))
            for i in top_k(scores, k)]


def content_hash(data: bytes) -> str:
    """Return the content hash the job gives a file holding `data`."""
    digest = content_hasher()
    digest.update(data)
    return digest.hexdigest()
