#!/usr/bin/env python
"""Time the explore stage on synthetic embeddings: k-means libraries, and the 2-D map.

    python benchmarks/explore_benchmark.py kmeans [--n 100000] [--k 100]
    python benchmarks/explore_benchmark.py map [--n 1000] [--method umap|tsne]
    python benchmarks/explore_benchmark.py runs IMAGE_DIR [--model efficientnet_lite0]

kmeans and map: the vectors are Gaussian blobs in 512 dimensions, L2-normalised like the
job's embeddings. runs: build_index.py with the defaults on IMAGE_DIR into a new database,
then again with nothing new, each timed from outside (the process's wall clock), with the
first run's embedding and explore-stage seconds from its build's timings.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from indexer.explore import kmeans, layout  # noqa: E402

DIM = 512


def blobs(n: int, centers: int = 50, seed: int = 0) -> np.ndarray:
    """Return n unit vectors around `centers` random directions."""
    from sklearn.datasets import make_blobs
    vectors, _ = make_blobs(n_samples=n, n_features=DIM, centers=centers, random_state=seed)
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def timed(label: str, work) -> None:
    tick = time.perf_counter()
    work()
    print(f"{label}: {time.perf_counter() - tick:.1f} s", flush=True)


def kmeans_libraries(args) -> None:
    """One fit of each library at n x 512 with k clusters (one init, 20 iterations)."""
    from sklearn.cluster import KMeans, MiniBatchKMeans
    vectors = blobs(args.n)
    timed(f"faiss Kmeans (train + assign all), n={args.n}, k={args.k}",
          lambda: kmeans.assign(vectors, kmeans.fit(vectors, args.k, 0)[0]))
    timed(f"sklearn MiniBatchKMeans, n={args.n}, k={args.k}",
          lambda: MiniBatchKMeans(args.k, n_init=1, random_state=0).fit(vectors))
    if not args.skip_lloyd:
        timed(f"sklearn KMeans (lloyd), n={args.n}, k={args.k}",
              lambda: KMeans(args.k, n_init=1, max_iter=20, random_state=0).fit(vectors))
    timed(f"clusters auto (whole curve), n={args.n}",
          lambda: print(" k =", kmeans.cluster(vectors, kmeans.AUTO).k))


def map_(args) -> None:
    """The job's map of n vectors, as the build computes it."""
    vectors = blobs(args.n)
    timed(f"map {args.method}, n={args.n}", lambda: layout.project(vectors, args.method))


def runs(args) -> None:
    """A first build and a re-run with nothing new, each a whole build_index.py process."""
    from sqlalchemy import create_engine, text
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/index.sqlite3"
        build = [sys.executable, os.path.join(ROOT, "scripts", "build_index.py"), args.image_dir,
                 "--database-url", url, "--thumbnail-dir", os.path.join(tmp, "thumbs"),
                 "--model", args.model, "--no-progress"]
        walls = []
        for _ in range(2):
            tick = time.perf_counter()
            subprocess.run(build, check=True, capture_output=True)
            walls.append(time.perf_counter() - tick)
        engine = create_engine(url)
        with engine.connect() as connection:
            first = json.loads(connection.execute(
                text("SELECT timings FROM builds ORDER BY id LIMIT 1")).scalar())
        engine.dispose()
    # The map page's levels, grid and atlas sheets are made from the map: part of the stage.
    explore_s = sum(first.get(name, 0) for name in ("clusters_seconds", "map_seconds",
                                                    "map_grid_seconds", "atlas_seconds"))
    print(json.dumps({"first_run_seconds": round(walls[0], 1),
                      "embed_seconds": round(first["embed_seconds"], 1),
                      "clusters_seconds": round(first.get("clusters_seconds", 0), 1),
                      "map_seconds": round(first.get("map_seconds", 0), 1),
                      "grid_and_atlases_seconds": round(first.get("map_grid_seconds", 0)
                                                        + first.get("atlas_seconds", 0), 1),
                      "explore_seconds": round(explore_s, 1),
                      "explore_per_embedding": round(explore_s / first["embed_seconds"], 2),
                      "rerun_seconds": round(walls[1], 1)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["kmeans", "map", "runs"])
    parser.add_argument("image_dir", nargs="?", help="runs: a folder of images")
    parser.add_argument("--model", default="efficientnet_lite0")
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--method", default="umap")
    parser.add_argument("--skip-lloyd", action="store_true", help="skip sklearn's KMeans")
    args = parser.parse_args()
    {"kmeans": kmeans_libraries, "map": map_, "runs": runs}[args.what](args)


if __name__ == "__main__":
    main()
