"""Decode a collection once into a uint8 array on disk, and stream batches from it. No torch.

Training reads every image once per epoch; decoding a JPEG each time would cost more than
the autoencoder's step. The crops go to a memory-mapped .npy file instead, so memory holds
one batch and whatever pages the OS keeps, never the whole collection as float tensors
(1000 images at 32 px are 3 MB as uint8, 12 MB as float32; 1M images 1000 times that).
"""
from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor
from functools import partial
from typing import Iterator

import numpy as np

from core.imaging import Preprocessing

from ...read import decode_one, worker_context

DECODE_CHUNK = 16  # files a worker decodes per task: few round trips, even load at the end


def decode_to_file(paths: list[str], preprocessing: Preprocessing, dest: str,
                   workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Write each file's crop to row i of a uint8 N x S x S x 3 .npy at `dest`.

    Returns (the array, memory-mapped read-only; the rows that decoded). A file that cannot
    be decoded leaves its row unused: the embedding pass reports it as skipped.
    """
    size = preprocessing.crop
    array = np.lib.format.open_memmap(dest, mode="w+", dtype=np.uint8,
                                      shape=(len(paths), size, size, 3))
    good = []
    for decoded in _decoded(paths, preprocessing, workers):
        if decoded.pixels is not None:
            array[decoded.index] = decoded.pixels
            good.append(decoded.index)
    array.flush()
    del array
    return np.load(dest, mmap_mode="r"), np.array(sorted(good), dtype=np.int64)


def _decoded(paths: list[str], preprocessing: Preprocessing, workers: int):
    items = [(i, path, "") for i, path in enumerate(paths)]
    work = partial(decode_one, preprocessing=preprocessing, thumbnail_dir=None)
    if workers == 0:
        yield from map(work, items)
        return
    with ProcessPoolExecutor(workers, mp_context=worker_context()) as pool:
        yield from pool.map(work, items, chunksize=DECODE_CHUNK)


def batches(pixels: np.ndarray, rows: np.ndarray, batch_size: int,
            rng: np.random.Generator | None = None) -> Iterator[np.ndarray]:
    """Yield uint8 batches of `rows` of `pixels`: in order, or shuffled by `rng`.

    Each batch is read in ascending row order (forward through the file); the order within
    a batch does not matter to a gradient step.
    """
    order = rows if rng is None else rng.permutation(rows)
    for start in range(0, len(order), batch_size):
        yield pixels[np.sort(order[start:start + batch_size])]


def split_rows(rows: np.ndarray, seed: int, validation: float = 0.15
               ) -> tuple[np.ndarray, np.ndarray]:
    """Return (training rows, validation rows): a fixed-seed 85:15 split by default.

    The same rows and seed always give the same split. With a single image there is nothing
    to hold back: it is both (the validation loss is then the training image's).
    """
    if len(rows) < 2:
        return rows, rows
    shuffled = np.random.default_rng(seed).permutation(rows)
    held = min(len(rows) - 1, max(1, round(len(rows) * validation)))
    return np.sort(shuffled[held:]), np.sort(shuffled[:held])
