#!/usr/bin/env python
"""Measure the offline job against the seed method, side by side in one run.

    benchmark.py embed IMAGE_DIR            whole build_index.py run vs the whole seed run
    benchmark.py neighbors --n N --dim D --k K [--compare-seed] [--method exact|faiss]
    benchmark.py store --rows N             bulk rows/s vs one ORM insert per row
    benchmark.py rerun                      re-run after a 10% change vs the first run
    benchmark.py autoencoder IMAGE_DIR      train and index with --model autoencoder, cold
    benchmark.py ray [--rounds N] IMAGE_DIR [build options]  one machine vs --ray local
    benchmark.py all [--out FILE]           all of them at sizes that fit this machine,
                                            as the README's Markdown table

Each measurement prints one JSON object as its last line. Every method runs in its own
process, so each peak memory (ru_maxrss) is its own.
"""
import argparse
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

SELF = os.path.abspath(__file__)
BUILD = os.path.join(ROOT, "scripts", "build_index.py")
SUMMARY = re.compile(r"^indexed (\d+) images")
ENGINE = re.compile(r"reused \d+, (\w+ on \w+)")  # what the summary says ran the model


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_json(args: list[str]) -> dict:
    """Run this script with `args` in a child process; return its last line as JSON."""
    out = subprocess.run([sys.executable, SELF, *args], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"benchmark {' '.join(args)} failed:\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if out.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stderr}")
    return seconds, out.stdout


# --- embed -----------------------------------------------------------------------------

def cmd_embed(args) -> dict:
    """Time the whole job per backbone and engine and the seed method, on the same folder,
    in one run."""
    with tempfile.TemporaryDirectory() as tmp:
        seed_s, _ = timed([sys.executable, SELF, "seed-run", args.image_dir,
                           f"sqlite:///{tmp}/seed.sqlite3"])
        rows = []
        for model in args.model.split(","):
            for invariance in args.invariance.split(","):
                for engine in args.engine.split(","):
                    rows.append(time_build(args, tmp, model, invariance, engine, seed_s))
    return {"cpu": cpu_kind(), "images": rows[0]["images"], "seed_seconds": round(seed_s, 2),
            "seed_images_per_s": round(rows[0]["images"] / seed_s, 1), "models": rows}


def cpu_kind() -> str:
    """Return what decides the engines' speed: the vector extensions, e.g. "avx512+bf16+vnni,
    no amx" (Linux's /proc/cpuinfo flags; "unknown" elsewhere)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = set(next(line for line in f if line.startswith("flags")).split())
    except (OSError, StopIteration):
        return "unknown"
    vector = "avx512" if "avx512f" in flags else "avx2" if "avx2" in flags else "sse"
    extras = [name for name, flag in (("bf16", "avx512_bf16"), ("vnni", "avx512_vnni"))
              if flag in flags]
    if "avx_vnni" in flags and "vnni" not in extras:
        extras.append("vnni")
    amx = "amx" if "amx_tile" in flags else "no amx"
    return f"{'+'.join([vector, *extras])}, {amx}"


def time_build(args, tmp: str, model: str, invariance: str, engine: str,
               seed_s: float) -> dict:
    """Time one build_index.py run of the folder with this backbone, invariance and engine
    (auto: the one measured at the model's first run on this machine)."""
    from indexer.embedders.registry import OFFLINE_MODEL
    from indexer.scan import scan
    # Real weights where they can be had offline; speed does not depend on the values.
    weights = "imagenet" if model == OFFLINE_MODEL else "none"
    # The seed neither clusters nor maps: the comparison leaves the explore stage out (it is
    # timed on its own: benchmarks/explore_benchmark.py).
    build = [sys.executable, BUILD, "--model", model, "--weights", weights,
             "--invariance", invariance, "--engine", engine, "--clusters", "0", "--map", "none",
             "--no-progress"]
    name = f"{model}-{invariance}-{engine}"
    # Untimed: the once-per-machine work of a model (ONNX export, quantisation, timing the
    # engines and tier calibration, cached in ~/.cache/similar-images) is not indexing.
    warm = os.path.join(tmp, f"warm-{name}")
    os.makedirs(warm)
    first = scan(os.path.abspath(args.image_dir))[0][0]  # copied: the job never
    shutil.copy(first.full_path, warm)                   # follows a link out
    timed(build + [warm, "--database-url", f"sqlite:///{tmp}/warm-{name}.sqlite3",
                   "--thumbnail-dir", f"{tmp}/warm-thumbs"])
    ours_s, out = timed(build + [args.image_dir, "--database-url",
                                 f"sqlite:///{tmp}/{name}.sqlite3",
                                 "--thumbnail-dir", f"{tmp}/thumbs-{name}"])
    summary = out.strip().splitlines()[-1]
    images = int(SUMMARY.match(summary)[1])
    row = {"model": model, "weights": weights, "invariance": invariance,
           "engine": ENGINE.search(summary)[1], "images": images,
           "ours_seconds": round(ours_s, 2), "ours_images_per_s": round(images / ours_s, 1),
           "speedup": round(seed_s / ours_s, 2)}
    if args.sample:
        row.update(precision_agreement(args.image_dir, args.sample, model, weights,
                                       invariance, engine))
    return row


def precision_agreement(image_dir: str, sample: int, model: str, weights: str,
                        invariance: str = "none", engine: str = "auto") -> dict:
    """Compare the job's engine and precision (auto: as measured on this machine) with torch
    fp32, on the same crops."""
    from indexer.embedders.choice import choose
    from indexer.embedders.engine import load_engine
    from indexer.embedders.measure import settle
    from core.metrics import unit_rows
    from indexer.embedders.torch_engine import load_embedder
    from indexer.neighbors.exact import exact_top_k
    from indexer.read import embed_files
    from indexer.scan import hash_files, scan
    files, _ = hash_files(scan(os.path.abspath(image_dir))[0][:sample])
    items = [(f.full_path, f.content_hash) for f in files]
    choice = settle(choose(weights, "cpu", "auto", engine, model, invariance))
    fast = load_engine(choice)[0]
    vectors = []
    for embedder in (load_embedder(weights, "cpu", "fp32", model, invariance), fast):
        batches = embed_files(embedder, items, batch_size=64, workers=2, thumbnail_dir=None)
        vectors.append(unit_rows(np.concatenate([v for _, v in batches]))[0])
    cosines = np.sum(vectors[0] * vectors[1], axis=1)
    ids_a, _ = exact_top_k(vectors[0], 10)
    ids_b, _ = exact_top_k(vectors[1], 10)
    overlap = np.mean([len(set(a) & set(b)) / len(a) for a, b in zip(ids_a, ids_b)])
    return {"precision": f"{choice.precision} on {choice.engine}", "agreement_images": len(items),
            "min_cosine_vs_fp32": round(float(cosines.min()), 5),
            "top10_overlap_vs_fp32": round(float(overlap), 4)}


def cmd_seed_run(args) -> dict:
    from benchmarks.seed_method import seed_run
    return {"images": seed_run(args.image_dir, args.database_url)}


# --- rerun ------------------------------------------------------------------------------

def cmd_rerun(args) -> dict:
    """First run on 1000 images, then 100 removed and 40 added, re-run, vs from scratch."""
    from samples.drawn import make_collection
    from tests.support.index_lists import active_lists
    with tempfile.TemporaryDirectory() as tmp:
        images = os.path.join(tmp, "images")
        make_collection(images, groups=100, per_group=10, seed=3)
        make_collection(os.path.join(tmp, "extra"), groups=4, per_group=10, seed=4)

        def build(url, thumbs):
            return timed([sys.executable, BUILD, images, "--weights", "none", "--no-progress",
                          "--database-url", url, "--thumbnail-dir", thumbs])

        url = f"sqlite:///{tmp}/index.sqlite3"
        first_s, _ = build(url, f"{tmp}/thumbs")
        for g in range(10):  # 100 removed: the whole of ten groups
            shutil.rmtree(os.path.join(images, f"group-{g:02d}"))
        for g in range(4):   # 40 added
            shutil.move(os.path.join(tmp, "extra", f"group-{g:02d}"),
                        os.path.join(images, f"added-{g:02d}"))
        second_s, out = build(url, f"{tmp}/thumbs")
        scratch = f"sqlite:///{tmp}/scratch.sqlite3"
        build(scratch, f"{tmp}/thumbs2")
        identical = active_lists(url) == active_lists(scratch)
    return {"first_seconds": round(first_s, 2), "rerun_seconds": round(second_s, 2),
            "ratio": round(second_s / first_s, 3), "identical_to_scratch": identical,
            "rerun_summary": out.strip().splitlines()[-1]}


# --- neighbors -------------------------------------------------------------------------

def random_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """Non-negative unit vectors, like ResNet avgpool features after ReLU."""
    rng = np.random.default_rng(seed)
    x = np.maximum(rng.standard_normal((n, dim), dtype=np.float32), 0)
    x /= np.linalg.norm(x, axis=1, keepdims=True) + 1e-12
    return x


def spot_check(vectors: np.ndarray, ids: np.ndarray, scores: np.ndarray, rows: int) -> bool:
    """Check `rows` random rows against float64 brute force (ties may swap places)."""
    sample = np.random.default_rng(1).choice(len(vectors), min(rows, len(vectors)), False)
    queries = vectors[sample].astype(np.float64)
    truth = np.concatenate([queries @ vectors[s:s + 16384].astype(np.float64).T
                            for s in range(0, len(vectors), 16384)], axis=1)
    truth[np.arange(len(sample)), sample] = -np.inf
    k = ids.shape[1]
    for i, row in zip(sample, truth):
        best = np.argpartition(-row, k - 1)[:k]
        want = best[np.lexsort((best, -row[best]))]
        # Exact up to float32 rounding: the same ids, or ids whose true scores are the best.
        if not (np.array_equal(ids[i], want) or np.allclose(row[ids[i]], row[want], atol=1e-6)):
            return False
    return True


def cmd_neighbors(args) -> dict:
    # The seed runs first, in a child: a child starts with its parent's peak memory as its
    # own (ru_maxrss survives fork and exec), so the parent must still be small then.
    seed = run_json(["neighbors", "--n", str(args.n), "--dim", str(args.dim), "--k",
                     str(args.k), "--seed-only"]) if args.compare_seed else None
    if args.seed_only:
        from benchmarks.seed_method import seed_neighbors
        baseline = peak_rss_mb()
        vectors = random_vectors(args.n, args.dim)
        started = time.perf_counter()
        seed_neighbors(vectors, args.k)
        return {"seconds": round(time.perf_counter() - started, 2),
                "peak_rss_mb": round(peak_rss_mb()), "baseline_rss_mb": round(baseline)}
    from indexer.neighbors.approximate import faiss_top_k
    from indexer.neighbors.exact import BLOCK_MB, exact_top_k
    baseline = peak_rss_mb()  # the interpreter and its libraries (torch alone: ~500 MB)
    vectors = random_vectors(args.n, args.dim)
    started = time.perf_counter()
    if args.method == "faiss":
        ids, scores = faiss_top_k(vectors, args.k)
    else:
        import torch
        fast_dtype = {"auto": None, "fp32": torch.float32, "bf16": torch.bfloat16}[args.fast]
        ids, scores = exact_top_k(vectors, args.k, memory_mb=args.memory_mb or BLOCK_MB,
                                  fast_dtype=fast_dtype)
    seconds = time.perf_counter() - started
    result = {"n": args.n, "dim": args.dim, "k": args.k, "method": args.method,
              "fast": args.fast,
              "seconds": round(seconds, 2), "peak_rss_mb": round(peak_rss_mb()),
              "baseline_rss_mb": round(baseline)}
    if args.method == "faiss":
        from indexer.neighbors.approximate import recall_at_k
        result["recall_at_k"] = round(recall_at_k(vectors, ids, sample=1000), 4)
    else:
        result["exact_sample_ok"] = spot_check(vectors, ids, scores, 100)
    if seed:
        result.update(seed_seconds=seed["seconds"], seed_peak_rss_mb=seed["peak_rss_mb"],
                      seed_baseline_rss_mb=seed["baseline_rss_mb"],
                      speedup=round(seed["seconds"] / seconds, 1))
    return result


# --- store -----------------------------------------------------------------------------

def cmd_store(args) -> dict:
    from store_benchmark import measure_store
    return measure_store(args.rows, args.orm_rows, args.postgres_url)


def cmd_autoencoder(args) -> dict:
    from autoencoder_benchmark import measure_autoencoder
    return measure_autoencoder(args.image_dir, args.extra)


def cmd_ray(args) -> dict:
    from ray_benchmark import measure_ray
    return measure_ray(args.image_dir, args.rounds, args.extra)


# --- all -------------------------------------------------------------------------------

def cmd_all(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        image_dir = args.images
        if not image_dir:
            from samples.drawn import make_collection
            image_dir = os.path.join(tmp, "images")
            make_collection(image_dir, groups=100, per_group=10, seed=3)
        embed = run_json(["embed", image_dir, "--model", args.model])
    n10k = run_json(["neighbors", "--n", "10000", "--dim", "512", "--k", "10", "--compare-seed"])
    n100k = run_json(["neighbors", "--n", "100000", "--dim", "512", "--k", "10"])
    store = run_json(["store", "--rows", "1000000"])
    table = markdown(embed, n10k, n100k, store)
    if args.out:
        with open(args.out, "w") as f:
            f.write(table)
    print(table)
    return {"embed": embed, "neighbors_10k": n10k, "neighbors_100k": n100k, "store": store}


def working(result: dict, prefix: str = "") -> int:
    """Return peak memory above what the interpreter and its libraries took before the data."""
    return result[f"{prefix}peak_rss_mb"] - result[f"{prefix}baseline_rss_mb"]


def embedding_rows(embed: dict) -> list[str]:
    """Return two table rows per backbone: its speed against the seed, its precision."""
    rows = []
    for row in embed["models"]:
        rows += [
            f"| embedding with {row['model']}, end to end from {row['images']} JPEGs "
            f"(whole run, {embed['cpu']}) | {row['ours_images_per_s']} images/s "
            f"({row['ours_seconds']} s, {row['engine']}) | {embed['seed_images_per_s']} images/s "
            f"({embed['seed_seconds']} s, ResNet18) | {row['speedup']}x |",
            f"| {row['model']}: {row['precision']} vs torch fp32 embeddings "
            f"({row['agreement_images']} images) | min cosine {row['min_cosine_vs_fp32']}, "
            f"top-10 overlap {row['top10_overlap_vs_fp32']} | | |"]
    return rows


def markdown(embed: dict, n10k: dict, n100k: dict, store: dict) -> str:
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Machine: {os.cpu_count()} cores ({cpu}), no GPU. Command: `.venv/bin/python "
        "benchmarks/benchmark.py all`.", "",
        "| stage | this project | seed method | ratio |", "| --- | --- | --- | --- |",
        *embedding_rows(embed),
        f"| exact top-10, N = 10k, d = 512 | {n10k['seconds']} s, {n10k['peak_rss_mb']} MB "
        f"peak ({working(n10k)} MB above the libraries) | {n10k['seed_seconds']} s, "
        f"{n10k['seed_peak_rss_mb']} MB peak ({working(n10k, 'seed_')} MB above) | "
        f"{n10k['speedup']}x faster, {round(working(n10k, 'seed_') / working(n10k), 1)}x "
        "less working memory |",
        f"| exact top-10, N = 100k, d = 512 | {n100k['seconds']} s, {n100k['peak_rss_mb']} MB "
        f"peak, spot check {'exact' if n100k['exact_sample_ok'] else 'FAILED'} | | |",
    ]
    for backend, row in store.items():
        lines.append(
            f"| {row['rows']} neighbour rows into {backend} | {row['rows_per_s']:,} rows/s "
            f"({row['method']}) | {row['orm_rows_per_s']:,} rows/s (ORM, one by one) | "
            f"{row['speedup']}x |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    embed = sub.add_parser("embed")
    embed.add_argument("image_dir")
    embed.add_argument("--sample", type=int, default=256,
                       help="images for the check against torch fp32 (0: no check)")
    embed.add_argument("--model", default="resnet18",
                       help="backbones to time, comma-separated (resnet18,efficientnet_lite0)")
    embed.add_argument("--invariance", default="none",
                       help="invariances to time, comma-separated (none,mirror,dihedral)")
    embed.add_argument("--engine", default="auto",
                       help="engines to time, comma-separated (auto,mnn,onnxruntime,torch)")
    seed = sub.add_parser("seed-run", help=argparse.SUPPRESS)
    seed.add_argument("image_dir")
    seed.add_argument("database_url")
    neighbors = sub.add_parser("neighbors")
    neighbors.add_argument("--n", type=int, default=10000)
    neighbors.add_argument("--dim", type=int, default=512)
    neighbors.add_argument("--k", type=int, default=10)
    neighbors.add_argument("--method", choices=["exact", "faiss"], default="exact")
    neighbors.add_argument("--memory-mb", type=int, default=None,
                           help="the score block's budget (default: the job's)")
    neighbors.add_argument("--fast", choices=["auto", "fp32", "bf16"], default="auto",
                           help="the exact search's fast pass (auto: as the job chooses)")
    neighbors.add_argument("--compare-seed", action="store_true")
    neighbors.add_argument("--seed-only", action="store_true", help=argparse.SUPPRESS)
    sub.add_parser("rerun", help="re-run after 100 removed and 40 added, vs from scratch")
    store = sub.add_parser("store")
    store.add_argument("--rows", type=int, default=1_000_000)
    store.add_argument("--orm-rows", type=int, default=20_000)
    store.add_argument("--postgres-url", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    autoencoder = sub.add_parser("autoencoder", help="train and index with --model "
                                 "autoencoder from a cold cache: time, images/s, memory")
    autoencoder.add_argument("image_dir")
    autoencoder.add_argument("extra", nargs=argparse.REMAINDER,
                             help="more build_index.py options (--epochs 10, ...)")
    ray = sub.add_parser("ray", help="the whole job on one machine against --ray local "
                         "(a local Ray cluster), alternating runs: times, ratio, same lists")
    ray.add_argument("image_dir")
    ray.add_argument("--rounds", type=int, default=2)
    ray.add_argument("extra", nargs=argparse.REMAINDER,
                     help="build_index.py options for both (--model efficientnet_lite0, ...)")
    everything = sub.add_parser("all")
    everything.add_argument("--images", help="a folder of JPEGs (default: 1000 generated)")
    everything.add_argument("--out", help="also write the Markdown table here")
    everything.add_argument("--model", default="resnet18",
                            help="backbones for the embedding rows, comma-separated")
    args = parser.parse_args()
    handler = {"embed": cmd_embed, "seed-run": cmd_seed_run, "neighbors": cmd_neighbors,
               "rerun": cmd_rerun, "store": cmd_store, "autoencoder": cmd_autoencoder,
               "ray": cmd_ray, "all": cmd_all}[args.command]
    print(json.dumps(handler(args)), flush=True)


if __name__ == "__main__":
    main()
