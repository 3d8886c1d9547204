#!/usr/bin/env python
"""Time the gallery's last page and an image page on a synthetic 100k-image PostgreSQL index.

    python benchmarks/pagination_benchmark.py \
        [--server-url postgresql://postgres@127.0.0.1/postgres]
        [--images 100000] [--k 10] [--repeat 200]

Creates a database of its own on the server (dropped afterwards), fills it through the
migrations and COPY with an active build of N images and k recommendations each (paths and
scores are synthetic: no image files are needed to time the queries), then reports median
times for the first and the last gallery page (the query alone, and the whole uncached page
through Flask), and the image page, with EXPLAIN ANALYZE of the last page's query.
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import event  # noqa: E402

from webapp import create_app  # noqa: E402
from core.db import db, ensure_schema  # noqa: E402
from core.records import ACTIVE, Build  # noqa: E402
from indexer.store import bulk_insert  # noqa: E402
from tests.support.databases import scratch_postgres  # noqa: E402


def fill(n: int, k: int) -> Build:
    """Store an active build of n synthetic images with k recommendations each."""
    build = Build(status=ACTIVE, root="/nonexistent", model="resnet18", weights="none",
                  model_key="synthetic", k=k, image_count=n, timings={}, skipped=[])
    db.session.add(build)
    db.session.commit()
    connection = db.session.connection()
    bulk_insert(connection, "images", ["id", "path"],
                ((i + 1, f"folder-{i // 1000:03d}/image-{i:06d}.jpg") for i in range(n)))
    bulk_insert(connection, "indexed_images",
                ["build_id", "image_id", "position", "content_hash", "width", "height",
                 "file_size"],
                ((build.id, i + 1, i, f"{i:032x}", 640, 480, 50_000) for i in range(n)))
    rng = np.random.default_rng(0)
    similar = rng.integers(1, n + 1, size=(n, k))
    bulk_insert(connection, "recommendations",
                ["build_id", "image_id", "rank", "similar_id", "score"],
                ((build.id, i + 1, r, int(similar[i, r]), 1.0 - r / 100)
                 for i in range(n) for r in range(k)))
    db.session.commit()
    connection = db.session.connection()
    connection.exec_driver_sql("SELECT setval('images_id_seq', %s)", (n,))
    for table in ("builds", "images", "indexed_images", "recommendations"):
        connection.exec_driver_sql(f"ANALYZE {table}")
    db.session.commit()
    return build


def median_ms(fn, repeat: int) -> float:
    fn()  # warm the connection and the statement caches
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def explain_analyze(fn) -> list[str]:
    seen = []
    listener = lambda _c, _cur, statement, parameters, *_: seen.append((statement, parameters))  # noqa: E731
    event.listen(db.engine, "before_cursor_execute", listener)
    fn()
    event.remove(db.engine, "before_cursor_execute", listener)
    statement, parameters = seen[-1]
    rows = db.session.connection().exec_driver_sql(
        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters).all()
    return [row[0] for row in rows]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--server-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--per-page", type=int, default=48)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()

    with scratch_postgres(args.server_url, "simimg_pagination") as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "PER_PAGE": args.per_page,
                          "PAGE_CACHE_MB": 0})  # every page rendered: the uncached cost
        with app.app_context():
            ensure_schema(db.engine)
            start = time.perf_counter()
            build = fill(args.images, args.k)
            print(f"stored {args.images} images and {args.images * args.k} recommendations "
                  f"in {time.perf_counter() - start:.1f} s")
            last = -(-args.images // args.per_page)
            middle_id = args.images // 2
            client = app.test_client()
            results = {
                "first page, query": median_ms(lambda: build.page(1, args.per_page), args.repeat),
                f"last page ({last}), query":
                    median_ms(lambda: build.page(last, args.per_page), args.repeat),
                "image's recommendations, query":
                    median_ms(lambda: build.similar(middle_id), args.repeat),
                "first page, whole page (uncached)":
                    median_ms(lambda: client.get("/?page=1"), args.repeat),
                "last page, whole page (uncached)":
                    median_ms(lambda: client.get(f"/?page={last}"), args.repeat),
                "image page, whole page (uncached)":
                    median_ms(lambda: client.get(f"/images/{middle_id}"), args.repeat),
            }
            assert client.get(f"/?page={last}").status_code == 200
            for label, ms in results.items():
                print(f"{label}: median {ms:.2f} ms over {args.repeat}")
            print("EXPLAIN ANALYZE of the last page's query:")
            print("\n".join("  " + line for line in
                            explain_analyze(lambda: build.page(last, args.per_page))))
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
