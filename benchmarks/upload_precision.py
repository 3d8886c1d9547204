#!/usr/bin/env python
"""Search by upload on a labelled collection: same-family precision@k of each way to search.

    python benchmarks/upload_precision.py DATABASE_URL [--k 10] [--every 1]

Reads the active build of DATABASE_URL (a build_index.py run over a folder of one folder per
family, `--search-index always` to time the approximate index too), uploads each file of the
collection (every `--every`th) and counts how many of its k results, the file itself left
out, are of its family (folder), for each way the web can search:

- `served`: POST /api/search, as a user gets it (the approximate index where the build has one);
- `exact learned space`: every row scored in the build's learned space (below the size);
- `approximate index, raw cosine`: how uploads past the size were searched before the index
  held the learned vectors (the index's candidates re-scored by the raw cosine).

The last needs the raw vectors in an index: it builds one in memory (FAISS) for the purpose.
Prints a Markdown table with the median latency of each.
"""
from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from core.records import Build  # noqa: E402
from webapp import create_app  # noqa: E402
from webapp.search.exact import query_embedder, search_matrix, top_k  # noqa: E402
from webapp.search.ranked import ranked_matrix, ranked_search  # noqa: E402
from webapp.serving.image_files import collection_root  # noqa: E402
from webapp.serving.active_index import served_index  # noqa: E402


def family(path: str) -> str:
    return path.split("/")[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--every", type=int, default=1, help="upload every Nth file")
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url})
    client = app.test_client()
    with app.app_context():
        build = Build.active()
        gallery = build.page(1, build.image_count)
        rows = gallery[::args.every]
        root = collection_root(build)
        path_of = {row.id: row.path for row in gallery}
    with app.test_request_context():
        served = served_index()
        embedder = query_embedder(served)
        loaded = search_matrix(served)
        ranked = ranked_matrix(served)
        raw_index = raw_cosine_index(loaded.matrix.astype(np.float32))
    ways = {"served (POST /api/search)": [], "exact, learned space": [],
            "approximate index, raw cosine (before)": []}
    seconds = {name: [] for name in ways}
    for row in rows:
        data = open(os.path.join(root, row.path), "rb").read()
        tick = time.perf_counter()
        body = client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg"),
                                                "k": str(args.k + 1)}).get_json()
        seconds["served (POST /api/search)"].append(time.perf_counter() - tick)
        ways["served (POST /api/search)"].append([r["id"] for r in body["results"]])
        with app.test_request_context():
            pixels = embedder.model_input(data, 10 ** 8).pixels
            tick = time.perf_counter()
            found = ranked_search(embedder, loaded, ranked, pixels, args.k + 1)
            seconds["exact, learned space"].append(time.perf_counter() - tick)
            ways["exact, learned space"].append([m.image_id for m in found])
            tick = time.perf_counter()
            unit, _ = embedder.embed(pixels)
            best = raw_index(unit, args.k + 1, loaded.matrix)
            seconds["approximate index, raw cosine (before)"].append(time.perf_counter() - tick)
            ways["approximate index, raw cosine (before)"].append(
                [int(loaded.image_ids[i]) for i in best])
    print(f"{build.model}, ranking {build.ranking}, {len(rows)} uploads of "
          f"{build.image_count} images, k {args.k}")
    print("| search | precision@k | median ms |\n| --- | --- | --- |")
    for name, lists in ways.items():
        hits = [sum(family(path_of[i]) == family(row.path) for i in
                    [i for i in ids if i != row.id][:args.k]) / args.k
                for row, ids in zip(rows, lists)]
        print(f"| {name} | {np.mean(hits):.3f} | "
              f"{1000 * statistics.median(seconds[name]):.1f} |")


def raw_cosine_index(matrix: np.ndarray):
    """Return search(unit, k, matrix): the job's IVF-PQ of the raw vectors, its candidates
    re-scored by the raw cosine (what the web did past the size before)."""
    from indexer import search_index
    import faiss
    built = search_index.build(matrix)
    index = faiss.deserialize_index(np.frombuffer(built.data, np.uint8))
    faiss.extract_index_ivf(index).nprobe = built.parameters["nprobe"]

    def search(unit: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
        _, found = index.search(unit[None].astype(np.float32), max(built.parameters[
            "candidates"], k))
        positions = np.unique(found[0][found[0] >= 0])
        return positions[top_k(rows[positions].astype(np.float32) @ unit, k)]
    return search


if __name__ == "__main__":
    main()
