#!/usr/bin/env python
"""Time the explore stage on synthetic embeddings: k-means libraries, and the 2-D map.

    python benchmarks/explore_benchmark.py kmeans [--n 100000] [--k 100]
    python benchmarks/explore_benchmark.py map [--n 1000] [--method umap|tsne]

The vectors are Gaussian blobs in 512 dimensions, L2-normalised like the job's embeddings.
"""
import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

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


def kmeans(args) -> None:
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("what", choices=["kmeans", "map"])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=100)
    parser.add_argument("--method", default="umap")
    parser.add_argument("--skip-lloyd", action="store_true", help="skip sklearn's KMeans")
    args = parser.parse_args()
    kmeans(args) if args.what == "kmeans" else map_(args)


if __name__ == "__main__":
    main()
