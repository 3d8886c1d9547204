#!/usr/bin/env python
"""Time the job's map pictures at N images: zoom levels, the grid view, the atlas sheets.

    python benchmarks/map_pictures_benchmark.py [--images 100000]

Thumbnails are real photographs (scikit-image's and scikit-learn's, cut and tinted: 2048
distinct ones, hard-linked under N content hashes so the folder stays small); the places
are clustered like a UMAP map. Runs indexer/explore/map_pictures.py twice: the first run
writes every sheet, the second (nothing changed) must write none.
"""
import argparse
import hashlib
import os
import random
import shutil
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.map_benchmark import clustered_places, small_pictures  # noqa: E402
from core.imaging import THUMBNAIL_SIZE, save_thumbnail, thumbnail_name  # noqa: E402
from indexer.explore.map_pictures import map_pictures  # noqa: E402

DISTINCT = 2048


def write_thumbnails(folder: str, count: int) -> list[str]:
    """Write DISTINCT real thumbnails and link the rest to them; return the content hashes."""
    pictures = small_pictures(DISTINCT, random.Random(1))
    hashes = [hashlib.md5(str(i).encode()).hexdigest() for i in range(count)]
    for i, content_hash in enumerate(hashes):
        if i < DISTINCT:
            save_thumbnail(pictures[i].resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE)), folder, content_hash)
        else:
            target = os.path.join(folder, thumbnail_name(content_hash))
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.link(os.path.join(folder, thumbnail_name(hashes[i % DISTINCT])), target)
    return hashes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    args = parser.parse_args()
    folder = tempfile.mkdtemp()
    try:
        hashes = write_thumbnails(folder, args.images)
        places = clustered_places(args.images, np.random.default_rng(0)).astype(np.float32)
        for run in ("first run", "again, nothing changed"):
            tick = time.perf_counter()
            made = map_pictures(places, hashes, folder)
            timings = made.timings
            print(f"{args.images} images, {run}: {time.perf_counter() - tick:.1f} s "
                  f"(levels and grid {timings['map_grid_seconds']:.1f} s, atlases "
                  f"{timings['atlas_seconds']:.1f} s, {timings['atlas_sheets_written']} of "
                  f"{len(made.atlases.sheets)} sheets written)")
        size = sum(os.path.getsize(os.path.join(folder, name))
                   for name in made.atlases.sheets) / 2**20
        print(f"sheets: {size:.1f} MB in all, {size * 1024 / len(made.atlases.sheets):.0f} KB each")
    finally:
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
