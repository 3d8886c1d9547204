#!/usr/bin/env python
"""What the ranking steps cost at scale: whitening, the augmentation's extra search, the lists.

    python benchmarks/ranking_benchmark.py [--n 100000] [--dim 1280] [--k 10]
        [--neighbors exact|faiss] [--skip-raw]

Clustered synthetic unit vectors (ann_benchmark.clustered_vectors) stand in for a collection
of Lite0 embeddings; each stage runs the job's own code (indexer/ranking, the exact search)
and is timed: the raw build's one exact search at d, against learning the whitening, the
augmentation's search of each vector's neighbours (in the whitened space) and the lists'
search, each search exact or through FAISS's HNSW (what the job uses past 200k images on a
CPU: `--neighbors auto`). Prints one JSON object; peak RSS too.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.ann_benchmark import clustered_vectors  # noqa: E402
from indexer.neighbors import find_neighbors  # noqa: E402
from indexer.ranking.settings import RankingSettings  # noqa: E402
from indexer.ranking.space import ranking_space  # noqa: E402


def searcher(method: str):
    def search(vectors: np.ndarray, k: int):
        ids, scores, _ = find_neighbors(method, vectors, k)
        return ids, scores
    return search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=1280)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--neighbors", choices=("exact", "faiss"), default="exact")
    parser.add_argument("--skip-raw", action="store_true", help="time the ranked build only")
    args = parser.parse_args()
    search = searcher(args.neighbors)
    with tempfile.TemporaryDirectory() as folder:
        units = np.array(clustered_vectors(os.path.join(folder, "v.npy"), args.n, args.dim))
    result = {"n": args.n, "dim": args.dim, "k": args.k, "neighbors": args.neighbors}
    if not args.skip_raw:
        tick = time.perf_counter()
        search(units, args.k)
        result["raw_lists_seconds"] = round(time.perf_counter() - tick, 1)
    tick = time.perf_counter()
    space = ranking_space(units, RankingSettings(), search)
    result.update({key: round(value, 1) for key, value in space.timings.items()
                   if key.endswith("_seconds")})
    tick_lists = time.perf_counter()
    search(space.vectors, args.k)
    result["ranked_lists_seconds"] = round(time.perf_counter() - tick_lists, 1)
    result["ranked_total_seconds"] = round(time.perf_counter() - tick, 1)
    result["ranked_dim"] = int(space.vectors.shape[1])
    result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
