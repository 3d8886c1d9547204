"""Train and index a folder with --model autoencoder from a cold cache: the time and memory
of each part (benchmark.py autoencoder DIR). The target: 1000 images within 5 minutes on 2
cores, training included."""
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, "scripts", "build_index.py")
TARGET_SECONDS = 300


def cpu_name() -> str:
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor()


def measure_autoencoder(image_dir: str, extra: list[str]) -> dict:
    """Run build_index.py once with a fresh cache (so it trains); return its numbers."""
    with tempfile.TemporaryDirectory() as tmp:
        database = os.path.join(tmp, "index.sqlite3")
        env = dict(os.environ, SIMILAR_IMAGES_CACHE=os.path.join(tmp, "cache"))
        cmd = [sys.executable, BUILD, image_dir, "--model", "autoencoder", "--no-progress",
               "--database-url", f"sqlite:///{database}",
               "--thumbnail-dir", os.path.join(tmp, "thumbs"), *extra]
        started = time.perf_counter()
        done = subprocess.run(cmd, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd)} failed:\n{done.stderr}")
        timings, history = stored_numbers(database)
    images = history["images"]
    embedded = timings["embedded"]
    return {
        "cpu": cpu_name(), "cores": os.cpu_count(), "images": images,
        "total_seconds": round(seconds, 1), "within_target": seconds <= TARGET_SECONDS,
        "train_seconds": history["seconds"], "epochs_run": history["epochs_run"],
        "best_epoch": history["best_epoch"],
        "train_images_per_s": history["images_per_second"],
        "embed_seconds": round(timings["embed_seconds"], 1),
        "embed_images_per_s": round(embedded / timings["embed_seconds"], 1),
        # The largest of the job's processes (the main one trains; workers decode).
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024),
        "summary": done.stdout.strip().splitlines()[-1],
    }


def stored_numbers(database: str) -> tuple[dict, dict]:
    """Return the active build's timings and the trained autoencoder's history."""
    with sqlite3.connect(database) as connection:
        timings = connection.execute(
            "SELECT timings FROM builds WHERE status = 'active'").fetchone()[0]
        history = connection.execute(
            "SELECT t.history FROM trained_models t JOIN builds b ON b.model_key = t.model_key "
            "WHERE b.status = 'active'").fetchone()[0]
    return json.loads(timings), json.loads(history)
