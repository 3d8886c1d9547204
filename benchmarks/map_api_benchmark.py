#!/usr/bin/env python
"""Time GET /api/map at N images with map pictures: the site's side of opening the map.

    python benchmarks/map_api_benchmark.py [--images 100000]

Writes a build of N images with places, zoom levels, grid cells and atlas slots (as the job
stores them) into a temporary SQLite database, then asks the app for /api/map through
Flask's test client: the first answer (the query, the JSON) and one after the build's
look-up has expired (the rendered page from the cache).
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.map_benchmark import clustered_places  # noqa: E402
from core.db import db, ensure_schema  # noqa: E402
from core.records import ACTIVE, Build, MapAtlas  # noqa: E402
from indexer.store import bulk_insert  # noqa: E402
from webapp import create_app  # noqa: E402


def write_build(count: int) -> None:
    """Store one active build of `count` images with every map column filled."""
    rng = np.random.default_rng(0)
    places = clustered_places(count, rng)
    connection = db.session.connection()
    build = Build(status=ACTIVE, root="/photos", model="resnet18", weights="imagenet",
                  model_key="bench", k=10, image_count=count, map_method="umap")
    db.session.add(build)
    db.session.flush()
    bulk_insert(connection, "images", ["id", "path"],
                ((i + 1, f"photos/{i:06d}.jpg") for i in range(count)))
    bulk_insert(connection, "indexed_images",
                ["build_id", "image_id", "position", "content_hash", "width", "height",
                 "file_size", "cluster", "map_x", "map_y"],
                ((build.id, i + 1, i, f"{i:032x}", 640, 480, 1000, int(i % 50),
                  float(x), float(y)) for i, (x, y) in enumerate(places)))
    bulk_insert(connection, "map_pictures",
                ["build_id", "image_id", "level", "grid_level", "grid_x", "grid_y", "atlas_slot"],
                ((build.id, i + 1, int(rng.integers(15)), int(rng.integers(15)),
                  float(rng.random()), float(rng.random()), i) for i in range(count)))
    db.session.add(MapAtlas(build_id=build.id, atlas={
        "cell": 64, "columns": 16, "sheets": [f"atlases/{n:032x}.jpg" for n in range(-(-count // 256))]}))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.sqlite3",
                          "THUMBNAIL_DIR": folder})
        with app.app_context():
            ensure_schema(db.engine)
            write_build(args.images)
        client = app.test_client()
        for attempt in ("first", "again 3 s later (the build looked up again, the page cached)"):
            time.sleep(0 if attempt == "first" else 3)  # past INDEX_REFRESH_SECONDS (2 s)
            tick = time.perf_counter()
            response = client.get("/api/map")
            seconds = time.perf_counter() - tick
            assert response.status_code == 200 and response.data.count(b"atlases/") > 0
            print(f"{args.images} images, /api/map {attempt}: {seconds:.2f} s, "
                  f"{len(response.data) / 2**20:.1f} MB")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
