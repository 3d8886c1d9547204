"""Decode files into model crops in worker processes and feed them to an embedder in batches.

No torch here: the CPU engine (MNN) runs without it, and each worker only needs Pillow.
"""
from __future__ import annotations

import multiprocessing
from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Iterator

import numpy as np

from ..imaging import THUMBNAIL_SIZE, center_crop, open_rgb, save_thumbnail

# Batches decoded ahead of the one being embedded: enough to keep the model busy, and a
# bound on memory (a 64-image batch of 224 x 224 crops is 9.6 MB).
BATCHES_AHEAD = 3


@dataclass
class Decoded:
    index: int
    pixels: np.ndarray | None  # uint8 crop x crop x 3, None when the file could not be decoded
    width: int = 0
    height: int = 0
    error: str = ""


def decode_one(item: tuple[int, str, str], resize: int, crop: int,
               thumbnail_dir: str | None) -> Decoded:
    """Decode (index, path, content hash) once: the model's crop and the thumbnail from it."""
    index, full_path, content_hash = item
    try:
        decoded = open_rgb(full_path, max(resize, THUMBNAIL_SIZE))
        pixels = center_crop(decoded.rgb, resize, crop)
    except Exception as exc:  # any decoder error on any file is a skip, never fatal
        return Decoded(index, None, error=f"{exc.__class__.__name__}: {exc}")
    if thumbnail_dir:
        # From the same decode: the file is never decoded a second time.
        save_thumbnail(decoded.rgb, thumbnail_dir, content_hash)
    return Decoded(index, pixels, decoded.width, decoded.height)


def stack(samples: list[Decoded]) -> tuple[np.ndarray, list[Decoded]]:
    """Return the decoded crops as one uint8 array (in order) and every sample's outcome."""
    good = [s.pixels for s in samples if s.pixels is not None]
    pixels = np.stack(good) if good else np.empty((0, 0, 0, 3), np.uint8)
    for s in samples:
        s.pixels = None
    return pixels, samples


def decode_batches(items: list[tuple[str, str]], *, resize: int, crop: int,
                   thumbnail_dir: str | None, batch_size: int, workers: int
                   ) -> Iterator[tuple[np.ndarray, list[Decoded]]]:
    """Yield (uint8 crops, outcomes) per batch of (path, content hash) items, in order."""
    decode = partial(decode_one, resize=resize, crop=crop, thumbnail_dir=thumbnail_dir)
    batches = ([(i, *items[i]) for i in range(start, min(start + batch_size, len(items)))]
               for start in range(0, len(items), batch_size))
    if workers == 0:
        for batch in batches:
            yield stack([decode(item) for item in batch])
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        pending = deque()
        for batch in batches:
            chunk = max(1, len(batch) // (2 * workers))
            pending.append(pool.map_async(decode, batch, chunksize=chunk))
            if len(pending) > BATCHES_AHEAD:
                yield stack(pending.popleft().get())
        while pending:
            yield stack(pending.popleft().get())


def embed_files(embedder, items: list[tuple[str, str]], *, batch_size: int, workers: int,
                thumbnail_dir: str | None) -> Iterator[tuple[list[Decoded], np.ndarray]]:
    """Yield (outcomes of a batch, embeddings of its decoded samples in order)."""
    for pixels, outcomes in decode_batches(items, resize=embedder.resize, crop=embedder.crop,
                                           thumbnail_dir=thumbnail_dir, batch_size=batch_size,
                                           workers=workers):
        vectors = embedder.embed(pixels) if len(pixels) else np.empty((0, 0), np.float32)
        yield outcomes, vectors
