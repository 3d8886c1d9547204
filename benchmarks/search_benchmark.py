#!/usr/bin/env python
"""Time POST /api/search on an index: each of N uploads must find itself first.

Uploads N files of the active index (spread over the gallery) and reports the median and
p90 latency, after one warm-up search that loads the index into the worker. In-process
through Flask's test client by default, or over HTTP against a running server (--url).

--synthesize N first publishes a scratch build of N images: the active build's real ones
plus random unit vectors under the same model, so that a 100k-image search can be timed
without embedding 100k files. Use it on a scratch database.

--ann N times the approximate index alone (benchmarks/ann_benchmark.py): N synthetic clustered
512-d vectors, the job's IVF-PQ built once into a temp folder, searched by a fresh worker
process that memory-maps it, with recall@10 against exact search and the worker's memory.

    python benchmarks/search_benchmark.py [--database-url URL] [--uploads 20] [--url URL]
        [--synthesize 100000 [--search-index]] [--ann 2000000 [--queries 200]]
"""
import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from webapp import create_app  # noqa: E402
from core.db import db  # noqa: E402
from webapp.serving.image_files import collection_root  # noqa: E402
from core.records import Build, IndexedImage, StoredEmbedder  # noqa: E402


def synthesize(total: int, seed: int = 0, with_index: bool = False) -> Build:
    """Publish a build of the active build's images plus random ones, `total` in all; with
    the job's approximate search index too where `with_index`."""
    from indexer import store
    active = Build.active()
    real = db.session.execute(
        db.select(IndexedImage.image_id, IndexedImage.content_hash, IndexedImage.width,
                  IndexedImage.height, IndexedImage.file_size)
        .where(IndexedImage.build_id == active.id).order_by(IndexedImage.position)).all()
    extra = total - len(real)
    rng = np.random.default_rng(seed)
    hashes = [f"{seed:08x}{i:024x}" for i in range(extra)]
    for start in range(0, extra, 20_000):
        vectors = rng.standard_normal((min(20_000, extra - start), embedding_dim(active)),
                                      dtype=np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        store.save_embeddings(db.session, active.model_key,
                              [(h, store.StoredVector(1, 1, v.tobytes(), 1.0))
                               for h, v in zip(hashes[start:], vectors)])
    ids = store.image_ids(db.session, [f"synthetic/{h}.jpg" for h in hashes])
    rows = [tuple(r) for r in real] + [(ids[f"synthetic/{h}.jpg"], h, 1, 1, 0) for h in hashes]
    build = Build(root=active.root, model=active.model, weights=active.weights,
                  model_key=active.model_key, k=active.k, image_count=len(rows),
                  timings={"synthetic": extra})
    db.session.add(build)
    db.session.commit()
    empty = np.empty((len(rows), 0), np.int64)
    store.save_build_rows(db.session, build.id, rows, empty, empty.astype(np.float32))
    if with_index:
        from indexer import search_index
        from webapp.search.exact import load_matrix
        built = search_index.build(load_matrix(build)[1].astype(np.float32))
        store.save_search_index(db.session, build.id, built)
        print(f"search index {built.kind}, nprobe {built.parameters['nprobe']}, recall@10 "
              f"{built.recall_at_10:.3f} (random vectors: recall means nothing here)")
    store.publish(db.session, build)
    return build


def embedding_dim(build: Build) -> int:
    return db.session.get(StoredEmbedder, build.model_key).dim


def sample_uploads(build: Build, count: int) -> list[tuple[int, bytes]]:
    """Return (image id, file bytes) of `count` real images spread over the gallery."""
    real = [row for row in build.page(1, build.image_count) if not row.path.startswith(
        "synthetic/")]
    root = collection_root(build)
    chosen = real[::max(1, len(real) // count)][:count]
    return [(row.id, open(os.path.join(root, row.path), "rb").read()) for row in chosen]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--url", help="a running server's base URL (default: in-process)")
    parser.add_argument("--synthesize", type=int, help="publish a scratch build of N images")
    parser.add_argument("--search-index", action="store_true",
                        help="with --synthesize: build the job's approximate index too")
    parser.add_argument("--ann", type=int, help="time the approximate index on N synthetic "
                                                "vectors instead (no database)")
    parser.add_argument("--queries", type=int, default=200, help="with --ann")
    args = parser.parse_args()
    if args.ann:
        from benchmarks.ann_benchmark import run
        return run(args.ann, args.queries)
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url} if args.database_url
                     else {})
    with app.app_context():
        build = (synthesize(args.synthesize, with_index=args.search_index) if args.synthesize
                 else Build.active())
        uploads = sample_uploads(build, args.uploads)
        images = build.image_count
    post = http_post(args.url) if args.url else client_post(app)
    tick = time.perf_counter()
    post(uploads[0][1])
    warm_up = time.perf_counter() - tick
    latencies, found = [], 0
    for image_id, data in uploads:
        tick = time.perf_counter()
        first = post(data)[0]
        latencies.append(time.perf_counter() - tick)
        found += first["id"] == image_id and first["score"] >= 0.99
    ms = sorted(1000 * t for t in latencies)
    print(f"{images} images, {len(uploads)} uploads: median {statistics.median(ms):.1f} ms, "
          f"p90 {ms[int(0.9 * (len(ms) - 1))]:.1f} ms, max {ms[-1]:.1f} ms; first search "
          f"(loads the index) {1000 * warm_up:.0f} ms; {found}/{len(uploads)} found "
          "themselves first with score >= 0.99")
    return 0 if found == len(uploads) else 1


def client_post(app):
    import io
    client = app.test_client()

    def post(data: bytes) -> list[dict]:
        response = client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg")})
        return response.get_json()["results"]
    return post


def http_post(base_url: str):
    import requests
    session = requests.Session()

    def post(data: bytes) -> list[dict]:
        response = session.post(base_url + "/api/search", files={"image": ("q.jpg", data)})
        response.raise_for_status()
        return response.json()["results"]
    return post


if __name__ == "__main__":
    sys.exit(main())
