#!/usr/bin/env python
"""Time search by upload through the approximate index past a million images, without a
database: `benchmarks/search_benchmark.py --ann N` runs this.

1. N synthetic 512-d vectors, clustered (below), written to a temp folder as .npy;
2. the job's IVF-PQ (indexer/search_index.build: the same factory string, training,
   nprobe tuning and recall sample as a real build), written to the folder as the web writes it;
3. a fresh worker process maps the index file (IO_FLAG_MMAP), as a web worker does, and answers
   `queries` uploads of collection images: index candidates, then exact re-scoring of their
   vectors (read here from the .npy, mapped, where the web reads ~100 rows from the database);
4. recall@10 of those answers against exact search, latency, and the worker's memory.

The vectors are Gaussian blobs, not uniform noise (on which every method's recall is poor and
meaningless): blobs of ~100 around random unit centres, each spread in a 32-d subspace (16
shared random ones) plus a little isotropic noise, L2-normalised, like CNN embeddings of a
collection of many small families of similar pictures.

The embedding of an upload (ONNX, ~50-80 ms on these cores) is not in these times: it does not
depend on the collection's size (README, Performance).
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

DIM = 512
FAMILY = 10_000     # images per family of blobs (their centres near the family's)...
BLOB = 100          # ...and per blob
CENTRE_SPREAD = 0.4  # a blob centre: its family's plus this much of a random direction
RANK = 32           # each blob's spread lies in a RANK-d subspace...
SUBSPACES = 16      # ...one of these
SPREAD, NOISE = 0.8, 0.6  # a 10th neighbour at cosine ~0.6, a random pair ~0: IVF must probe
CHUNK = 100_000


def clustered_vectors(path: str, n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Write n clustered unit vectors to `path` (.npy, float32) and return them mapped."""
    rng = np.random.default_rng(seed)
    families = unit(rng.standard_normal((max(1, n // FAMILY), dim), dtype=np.float32))
    centres = unit(families[rng.integers(len(families), size=max(1, n // BLOB))]
                   + CENTRE_SPREAD * unit(rng.standard_normal((max(1, n // BLOB), dim),
                                                              dtype=np.float32)))
    bases = (rng.standard_normal((SUBSPACES, RANK, dim), dtype=np.float32)
             / np.float32(np.sqrt(RANK * dim)))
    out = np.lib.format.open_memmap(path, "w+", np.float32, (n, dim))
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        blob = rng.integers(len(centres), size=m)
        x = centres[blob] + NOISE * rng.standard_normal((m, dim), dtype=np.float32) / np.sqrt(dim)
        z = rng.standard_normal((m, RANK), dtype=np.float32)
        for b in range(SUBSPACES):
            chosen = blob % SUBSPACES == b
            x[chosen] += SPREAD * (z[chosen] @ bases[b])
        out[start:start + m] = unit(x)
    out.flush()
    return np.load(path, mmap_mode="r")


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def run(n: int, queries: int) -> int:
    """Build the index of n synthetic vectors once, time a worker's searches, print a line."""
    from core.atomic import write_atomically
    from indexer import search_index
    from indexer.neighbors.approximate import exact_rows_top_k
    with tempfile.TemporaryDirectory(prefix="ann-benchmark-") as folder:
        tick = time.perf_counter()
        vectors = clustered_vectors(os.path.join(folder, "vectors.npy"), n)
        made = time.perf_counter() - tick
        tick = time.perf_counter()
        built = search_index.build(vectors)
        build_seconds = time.perf_counter() - tick
        write_atomically(os.path.join(folder, "index.faiss"), built.data)
        rows = np.sort(np.random.default_rng(1).choice(n, queries, replace=False))
        truth = exact_rows_top_k(vectors, rows, 10, exclude_self=False)
        np.save(os.path.join(folder, "rows.npy"), rows)
        report = worker_report(folder, built.parameters)
        found = np.array(report.pop("found"))
        recall = search_index.overlap(truth, found)
        print(json.dumps({"n": n, "dim": vectors.shape[1], "kind": built.kind,
                          "parameters": {k: v for k, v in built.parameters.items()
                                         if k != "sha256"},
                          "job_recall_at_10": round(built.recall_at_10, 4),
                          "job_sample": built.sample_size,
                          "generate_seconds": round(made, 1),
                          "build_seconds": round(build_seconds, 1),
                          "worker_recall_at_10": round(recall, 4), **report}))
        print(f"{n} vectors, {built.kind}, nprobe {built.parameters['nprobe']}: recall@10 "
              f"{recall:.3f} on {queries} uploads (job's sample {built.recall_at_10:.3f}); "
              f"search median {report['median_ms']:.1f} ms, p90 {report['p90_ms']:.1f} ms; "
              f"worker RSS {report['rss_mb']:.0f} MB ({report['index_rss_mb']:.0f} MB of it "
              f"the mapped index file, {report['anon_mb']:.0f} MB private); built in "
              f"{build_seconds:.0f} s")
    return 0 if recall >= 0.95 else 1


def worker_report(folder: str, parameters: dict) -> dict:
    """Run the searches in a fresh process (a web worker's memory, not the builder's)."""
    done = subprocess.run([sys.executable, os.path.abspath(__file__), "worker", folder,
                           json.dumps(parameters)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def worker(folder: str, parameters: dict) -> None:
    """Map the index as a web worker does, answer each query, print timings and memory."""
    import faiss
    from webapp.search.mapped_index import mapped_flags
    from indexer.search_index import CANDIDATES
    faiss.omp_set_num_threads(1)  # as in the web: SEARCH_THREADS=1
    before = memory(folder)
    index = faiss.read_index(os.path.join(folder, "index.faiss"), mapped_flags(faiss))
    faiss.extract_index_ivf(index).nprobe = parameters["nprobe"]
    stored = StoredRows(os.path.join(folder, "vectors.npy"))
    rows = np.load(os.path.join(folder, "rows.npy"))
    latencies, found = [], []
    for row in rows:
        query = stored.read([row])[0]  # the upload's embedding: a copy of its own vector
        tick = time.perf_counter()
        _, candidates = index.search(query[None], CANDIDATES)
        positions = np.unique(candidates[0][candidates[0] >= 0])
        scores = stored.read(positions) @ query
        best = positions[np.lexsort((positions, -scores))[:10]]
        latencies.append(1000 * (time.perf_counter() - tick))
        found.append(best.tolist())
    after = memory(folder)
    ms = sorted(latencies)
    print(json.dumps({"median_ms": statistics.median(ms), "p90_ms": ms[int(0.9 * (len(ms) - 1))],
                      "max_ms": ms[-1], "rss_before_mb": before["rss_mb"], **after,
                      "found": found}))


class StoredRows:
    """The vectors file read row by row (pread), standing in for the web's database reads:
    not mapped, so its pages do not count in the worker's memory, as the database's do not."""

    def __init__(self, path: str):
        mapped = np.load(path, mmap_mode="r")
        self.offset, self.dim = mapped.offset, mapped.shape[1]
        self.fd = os.open(path, os.O_RDONLY)

    def read(self, rows) -> np.ndarray:
        size = 4 * self.dim
        return np.frombuffer(b"".join(os.pread(self.fd, size, self.offset + size * int(r))
                                      for r in rows), np.float32).reshape(-1, self.dim)


def memory(folder: str) -> dict:
    """Return this process's RSS, its private (anonymous) part, and the index file's pages."""
    status = dict(line.split(":", 1) for line in open("/proc/self/status"))
    kb = {k: int(status[k].split()[0]) for k in ("VmRSS", "RssAnon", "RssFile")}
    index_kb, mapping = 0, None
    for line in open("/proc/self/smaps"):
        if "-" in line.split()[0] and len(line.split()) >= 5:  # a mapping's header
            mapping = line.split()[-1] if len(line.split()) >= 6 else None
        elif line.startswith("Rss:") and mapping == os.path.join(folder, "index.faiss"):
            index_kb += int(line.split()[1])
    return {"rss_mb": kb["VmRSS"] / 1024, "anon_mb": kb["RssAnon"] / 1024,
            "file_mb": kb["RssFile"] / 1024, "index_rss_mb": index_kb / 1024}


if __name__ == "__main__":
    if sys.argv[1:2] == ["worker"]:
        worker(sys.argv[2], json.loads(sys.argv[3]))
    else:
        sys.exit(run(int(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 200))
