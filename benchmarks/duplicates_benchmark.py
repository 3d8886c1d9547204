#!/usr/bin/env python
"""Measure what duplicate groups cost at N images: the job's copy step, the web's grouping.

    python scripts/duplicates_benchmark.py [--images 100000] [--dim 512] [--families 0.1]

Synthesizes N unit vectors (--families of them in families of five near-duplicates, the
rest distinct), their exact top-10 lists, and times:
- the job's copy step (neighbors/distinct.py): which lists hold copies, 50 candidates and
  the copies and distinct list of those images; the pixel check is taken as passed (it reads
  two 320 px thumbnails per pair: timed apart, per pair, on a real thumbnail);
- the web's grouping (webapp/duplicates.find_groups) from a SQLite database holding the
  build's images, copy pairs and vectors, as a worker does once per build.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from webapp import create_app  # noqa: E402
from core.db import db  # noqa: E402
from webapp.duplicates.groups import KeepSettings, find_groups  # noqa: E402
from core.records import Build  # noqa: E402
from indexer import store  # noqa: E402
from indexer.neighbors import find_neighbors  # noqa: E402
from indexer.neighbors.distinct import Copies, related_images  # noqa: E402
from core.pixel_match import same_picture, signature  # noqa: E402

THRESHOLD = 0.85


def vectors_with_families(n: int, dim: int, share: float, seed: int = 0) -> np.ndarray:
    """Return n unit vectors; `share` of them in families of five around a common centre."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((n, dim)).astype(np.float32)
    in_families = int(n * share) // 5 * 5
    centres = np.repeat(vectors[:in_families:5], 5, axis=0)
    vectors[:in_families] = centres + 0.25 * rng.standard_normal(centres.shape)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def pixel_check_seconds() -> float:
    """Return the time of one pixel check from two thumbnails' JPEG bytes."""
    from PIL import Image
    from samples.pictures import photographs
    buffers = []
    for photo in photographs(["astronaut", "chelsea"]).values():
        photo.thumbnail((320, 320))
        out = io.BytesIO()
        photo.save(out, "JPEG", quality=85)
        buffers.append(out.getvalue())
    tick = time.perf_counter()
    for _ in range(100):
        a, b = (signature(Image.open(io.BytesIO(data))) for data in buffers)
        same_picture(a, b)
    return (time.perf_counter() - tick) / 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--families", type=float, default=0.1)
    args = parser.parse_args()
    units = vectors_with_families(args.images, args.dim, args.families)
    tick = time.perf_counter()
    ids, scores, _ = find_neighbors("exact", units, 10)
    print(f"exact top-10 of {args.images} x {args.dim}: {time.perf_counter() - tick:.1f} s")
    hashes = [f"{i:032x}" for i in range(args.images)]
    tick = time.perf_counter()
    copies = Copies(units, hashes, THRESHOLD, lambda a, b: True)
    related = related_images(copies, units, ids, 10)
    seconds = time.perf_counter() - tick
    print(f"job's copy step: {seconds:.1f} s; {related.images} images with copies, "
          f"{len(copies.verdicts)} pairs to check by pixels "
          f"(~{len(copies.verdicts) * pixel_check_seconds():.1f} s at "
          f"{pixel_check_seconds() * 1000:.1f} ms a pair)")
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3"})
        with app.app_context():
            db.create_all()
            build = Build(root=folder, model="synthetic", weights="synthetic",
                          model_key="synthetic", k=10, status="active")
            db.session.add(build)
            db.session.commit()
            store.save_embeddings(db.session, "synthetic", [
                (h, store.StoredVector(64, 64, units[i].tobytes(), 1.0))
                for i, h in enumerate(hashes)])
            rows = [(i + 1, h, 64, 64, 1000) for i, h in enumerate(hashes)]
            store.image_ids(db.session, [f"{i:07d}.jpg" for i in range(args.images)])
            store.save_build_rows(db.session, build.id, rows, ids, scores,
                                  related=related.rows)
            tick = time.perf_counter()
            groups = find_groups(build, THRESHOLD, KeepSettings())
            print(f"web's grouping (once per worker and build): "
                  f"{time.perf_counter() - tick:.1f} s for {len(groups)} groups of "
                  f"{sum(len(g.positions) for g in groups)} images")


if __name__ == "__main__":
    main()
