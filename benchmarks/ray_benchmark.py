"""One machine against a local Ray cluster on the same folder (benchmark.py ray DIR).

The runs alternate (one machine, Ray, one machine, Ray, ...), each into a fresh database and
thumbnail folder, so each does the whole job; the model's files are cached by a warm-up run
first. The target: `--ray local` within 1.5x of one machine's time, with the same lists.
"""
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.autoencoder_benchmark import cpu_name  # noqa: E402
from tests.support.index_lists import active_lists  # noqa: E402

BUILD = os.path.join(ROOT, "scripts", "build_index.py")
TARGET_RATIO = 1.5


def measure_ray(image_dir: str, rounds: int, extra: list[str]) -> dict:
    """Time `rounds` pairs of runs; return medians, the ratio, Ray's stages and a list check."""
    with tempfile.TemporaryDirectory() as tmp:
        warm_up(image_dir, tmp, extra)
        runs = {"one machine": [], "ray local": []}
        for number in range(rounds):
            for name, more in (("one machine", []), ("ray local", ["--ray", "local"])):
                folder = os.path.join(tmp, f"{number}-{len(more)}")
                runs[name].append(timed_build(image_dir, folder, extra + more))
        same = active_lists(runs["one machine"][-1]["url"]) == active_lists(
            runs["ray local"][-1]["url"])
    one = statistics.median(r["seconds"] for r in runs["one machine"])
    ray = statistics.median(r["seconds"] for r in runs["ray local"])
    stages = runs["ray local"][-1]["timings"]
    actors = stages["ray"]["actors"]
    return {
        "cpu": cpu_name(), "cores": os.cpu_count(), "images": runs["ray local"][-1]["images"],
        "options": " ".join(extra), "rounds": rounds,
        "one_machine_seconds": [r["seconds"] for r in runs["one machine"]],
        "ray_local_seconds": [r["seconds"] for r in runs["ray local"]],
        "ratio": round(ray / one, 2), "within_target": ray / one <= TARGET_RATIO,
        "ray_start_seconds": stages["ray"]["start_seconds"], "actors": actors,
        "ray_embed_seconds": round(stages["embed_seconds"], 1),
        "one_machine_embed_seconds": round(
            runs["one machine"][-1]["timings"]["embed_seconds"], 1),
        "per_actor_images_per_s": round(stages["embedded"] / stages["embed_seconds"] / actors, 1),
        "ray_neighbors_seconds": round(stages["neighbors_seconds"], 2),
        "same_lists": same,
    }


def warm_up(image_dir: str, tmp: str, extra: list[str]) -> None:
    """Build a few of the images once, untimed, so that the model's export is cached."""
    sample = os.path.join(tmp, "warm-up")
    os.makedirs(sample)
    pictures = [os.path.join(folder, name) for folder, _, names in sorted(os.walk(image_dir))
                for name in sorted(names) if name.lower().endswith((".jpg", ".jpeg", ".png"))]
    for number, path in enumerate(pictures[:4]):
        shutil.copy(path, os.path.join(sample, f"{number}-{os.path.basename(path)}"))
    timed_build(sample, os.path.join(tmp, "warm-up-run"), extra)


def timed_build(image_dir: str, folder: str, options: list[str]) -> dict:
    os.makedirs(folder, exist_ok=True)
    database = os.path.join(folder, "index.sqlite3")
    cmd = [sys.executable, BUILD, image_dir, "--no-progress", "--database-url",
           f"sqlite:///{database}", "--thumbnail-dir", os.path.join(folder, "thumbs"), *options]
    started = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
    with sqlite3.connect(database) as connection:
        images, timings = connection.execute(
            "SELECT image_count, timings FROM builds WHERE status = 'active'").fetchone()
    return {"seconds": round(seconds, 1), "images": images, "timings": json.loads(timings),
            "url": f"sqlite:///{database}"}
