"""Decode files into model crops in worker processes, and embed them in batches.

No torch here: the CPU engine (MNN) runs without it, and a decoding worker needs Pillow only.
"""
from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import partial
from typing import Iterator

import numpy as np

from core import locations
from core.hashing import digest_of
from core.imaging import Preprocessing, save_thumbnail, thumbnail_jpeg, thumbnail_name

from .embedders.registry import Embedder

# Batches a worker has queued ahead of the one being consumed: enough to keep every worker
# busy, and a bound on memory (a 64-image batch of 224 x 224 crops is 9.6 MB).
BATCHES_AHEAD = 2
# Images a worker embeds at a time: MNN runs as fast at 16 as at 64 (39.5 images/s on one
# core), and small batches keep the workers evenly loaded to the end of a run.
WORKER_BATCH = 16


@dataclass
class Decoded:
    index: int
    pixels: np.ndarray | None  # uint8 crop x crop x 3, None when the file could not be decoded
    width: int = 0
    height: int = 0
    error: str = ""


def decode_one(item: tuple[int, str, str], preprocessing: Preprocessing,
               thumbnail_dir: str | None) -> Decoded:
    """Decode (index, path, content hash) once: the model's crop and the thumbnail from it.

    The path and the thumbnail folder may be object-store URLs (core/locations.py).
    """
    index, full_path, content_hash = item
    try:
        with locations.open_binary(full_path) as source:  # the checks of locations.open_local
            cut = preprocessing.model_input(source)
            check_unchanged(source, content_hash)
        decoded, pixels = cut.decoded, cut.pixels
    except Exception as exc:  # any decoder error on any file is a skip, never fatal
        return Decoded(index, None, error=f"{exc.__class__.__name__}: {exc}")
    if thumbnail_dir:
        # From the same decode: the file is never decoded a second time.
        write_thumbnail(decoded.rgb, thumbnail_dir, content_hash)
    return Decoded(index, pixels, decoded.width, decoded.height)


def check_unchanged(source, content_hash: str) -> None:
    """Raise OSError unless the file decoded still holds what was hashed (no hash: no check).

    The decode read it through the descriptor checked at open; hashing that same descriptor
    again ties the stored vector and thumbnail to the content hash they are filed under.
    """
    if not content_hash:  # the autoencoder's pixel store decodes without hashes
        return
    source.seek(0)
    if digest_of(source)[1] != content_hash:
        raise OSError("changed since it was hashed; the next run indexes it")


def write_thumbnail(rgb, thumbnail_dir: str, content_hash: str) -> None:
    """Write a thumbnail into a folder, or as one object under an object-store prefix."""
    if locations.is_remote(thumbnail_dir):
        # No existence check (a HEAD per image): the runner decodes only the hashes whose
        # thumbnail its one listing did not find, and a rewrite stores the same bytes.
        locations.write_bytes(locations.join(thumbnail_dir, thumbnail_name(content_hash)),
                              thumbnail_jpeg(rgb))
    else:
        save_thumbnail(rgb, thumbnail_dir, content_hash)


def existing_thumbnails(thumbnail_dir: str, hashes) -> set[str]:
    """Return the content hashes among `hashes` whose thumbnail has been written already."""
    if locations.is_remote(thumbnail_dir):
        # One listing of the prefix, not a HEAD request per image.
        # A missing bucket raises locations.SourceError: fatal, before any work is done.
        present = set(locations.list_objects(thumbnail_dir))
        return {h for h in hashes if thumbnail_name(h) in present}
    return {h for h in hashes
            if os.path.exists(os.path.join(thumbnail_dir, thumbnail_name(h)))}


def stack(samples: list[Decoded]) -> tuple[np.ndarray, list[Decoded]]:
    """Return the decoded crops as one uint8 array (in order) and every sample's outcome."""
    good = [s.pixels for s in samples if s.pixels is not None]
    pixels = np.stack(good) if good else np.empty((0, 0, 0, 3), np.uint8)
    for s in samples:
        s.pixels = None
    return pixels, samples


def embed_files(embedder: Embedder, items: list[tuple[str, str]], *, batch_size: int, workers: int,
                thumbnail_dir: str | None) -> Iterator[tuple[list[Decoded], np.ndarray]]:
    """Yield (outcomes of a batch, raw features of its decoded samples in order).

    Workers decode; where the engine allows it (MNN) each also embeds what it decoded, with
    its own copy of the model: no pixels cross between processes and no model threads wait
    on each other (2 cores, 1000 small JPEGs, interleaved runs: 18.8-21.4 s for the whole
    job, against 22.4-23.0 s with the model's two threads in the main process).
    """
    inside = workers > 0 and embedder.embeds_in_workers
    batches = batches_of(items, batch_size_for(embedder, batch_size, inside))
    work = partial(_work, preprocessing=embedder.preprocessing,
                   thumbnail_dir=thumbnail_dir, embed=inside)
    if workers == 0:
        results = map(work, batches)
    else:
        copy = embedder.for_workers(workers) if inside else None
        results = _in_order(work, batches, workers, copy)
    for outcomes, data in results:
        yield outcomes, data if inside else vectors_of(embedder, data)


def batch_size_for(embedder: Embedder, batch_size: int, inside: bool) -> int:
    """Return the images a batch holds: WORKER_BATCH at most where workers embed."""
    return min(batch_size, WORKER_BATCH) if inside else batch_size


def batches_of(items: list[tuple[str, str]], size: int) -> Iterator[list[tuple[int, str, str]]]:
    """Yield the (index, path, content hash) batches of `items`, in order (see decode_batch)."""
    for start in range(0, len(items), size):
        yield [(i, *items[i]) for i in range(start, min(start + size, len(items)))]


def decode_batch(batch: list[tuple[int, str, str]], embedder: Embedder | None,
                 preprocessing: Preprocessing, thumbnail_dir: str | None
                 ) -> tuple[list[Decoded], np.ndarray]:
    """Decode a batch; return (outcomes, its crops), or (outcomes, its features) if `embedder`."""
    pixels, outcomes = stack([decode_one(item, preprocessing, thumbnail_dir)
                              for item in batch])
    return outcomes, vectors_of(embedder, pixels) if embedder else pixels


def vectors_of(embedder, pixels: np.ndarray) -> np.ndarray:
    """Return the raw features of a batch (the job stores their unit vectors and lengths)."""
    return embedder.features(pixels) if len(pixels) else np.empty((0, 0), np.float32)


def _in_order(work, batches, workers: int, embedder) -> Iterator:
    """Run `work` on each batch in worker processes; yield the results in order.

    concurrent.futures rather than multiprocessing.Pool: a worker that dies (the OOM killer,
    a crash in native code) fails the run with BrokenProcessPool instead of hanging it.
    """
    with ProcessPoolExecutor(workers, mp_context=worker_context(), initializer=_adopt,
                             initargs=(embedder,)) as pool:
        pending = deque()
        for batch in batches:
            pending.append(pool.submit(work, batch))
            if len(pending) > BATCHES_AHEAD * workers:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def worker_context():
    """Return the multiprocessing context decode workers start in (the job's, the trainer's)."""
    # fork starts workers at once and shares the model's bytes without copying them; it is
    # safe on Linux only (macOS frameworks and Windows need spawn).
    method = "fork" if sys.platform == "linux" else "spawn"
    return multiprocessing.get_context(method)


_worker_embedder = None  # this worker's own copy of the model, where the engine allows it


def _adopt(embedder) -> None:
    global _worker_embedder
    _worker_embedder = embedder


def _work(batch: list[tuple[int, str, str]], *, preprocessing: Preprocessing,
          thumbnail_dir: str | None, embed: bool) -> tuple[list[Decoded], np.ndarray]:
    """Decode a batch in a worker; with `embed`, embed it with the worker's own model."""
    return decode_batch(batch, _worker_embedder if embed else None, preprocessing,
                        thumbnail_dir)
