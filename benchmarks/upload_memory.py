#!/usr/bin/env python
"""Measure what one upload adds to a gunicorn worker's peak memory (VmHWM), per kind of file.

    python benchmarks/upload_memory.py --database-url URL [--thumbnail-dir DIR]
        [--size 8000] [--megapixels 50]

For each kind of PNG (16-bit grey, 16-bit RGBA, 8-bit RGBA; --size pixels a side, a few
hundred KB each), starts gunicorn as the Procfile does with one worker on a free loopback
port, searches once with a small JPEG (the worker loads its model and index), reads the
worker's VmHWM, posts the PNG to /api/search, and reads VmHWM again. Prints one line per
file: the answer's status and the peak it added. Needs a built index in the database.
"""
import argparse
import io
import os
import signal
import socket
import struct
import subprocess
import sys
import time
import zlib

import requests
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
KINDS = {"grey16": (0, 16, 1), "rgba16": (6, 16, 4), "rgba8": (6, 8, 4)}  # type, depth, channels


def png(width: int, height: int, kind: str) -> bytes:
    """Return a PNG of the kind (a KINDS key): a gradient, alpha varying too; rows streamed."""
    color_type, depth, channels = KINDS[kind]
    top = (1 << depth) - 1
    # A period of 509 values: the rows compress well within deflate's 32 KB window.
    values = [(x % 509) * top // 508 for x in range(width * channels)]
    row = b"\0" + (struct.pack(f">{len(values)}H", *values) if depth == 16 else bytes(values))
    deflate = zlib.compressobj(6)
    data = b"".join(deflate.compress(row) for _ in range(height)) + deflate.flush()

    def chunk(name: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + name + body + struct.pack(
            ">I", zlib.crc32(name + body))
    header = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data)
            + chunk(b"IEND", b""))


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 120, 40)).save(out, "JPEG")
    return out.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_of(master: int) -> list[int]:
    """Return the pids of a gunicorn master's worker processes."""
    with open(f"/proc/{master}/task/{master}/children") as f:
        return [int(pid) for pid in f.read().split()]


def peak_kb(pid: int) -> int:
    """Return a process's peak resident memory (VmHWM) in KB."""
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def start_one_worker(env: dict) -> tuple[subprocess.Popen, str]:
    """Start gunicorn (gunicorn.conf.py, one worker); return it and its URL once it answers."""
    port = free_port()
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    process = subprocess.Popen([gunicorn, "-b", f"127.0.0.1:{port}", "-w", "1", "app:app"],
                               cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(url + "/healthz", timeout=2).status_code == 200:
                return process, url
        except requests.RequestException:
            time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    raise SystemExit("gunicorn did not answer within a minute")


def added_peak(url: str, worker: int, data: bytes) -> tuple[int, int]:
    """Post `data` to /api/search after a warm-up search; return (status, peak added in KB)."""
    warm = requests.post(url + "/api/search", files={"image": ("q.jpg", small_jpeg())})
    warm.raise_for_status()
    before = peak_kb(worker)
    response = requests.post(url + "/api/search", files={"image": ("big.png", data)},
                             timeout=300)
    return response.status_code, peak_kb(worker) - before


def measure(env: dict, data: bytes) -> tuple[int, int]:
    """Return (status, peak added in KB) of one upload to a fresh one-worker gunicorn."""
    process, url = start_one_worker(env)
    try:
        (worker,) = workers_of(process.pid)
        return added_peak(url, worker, data)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--thumbnail-dir", default=os.path.join(ROOT, "instance", "thumbnails"))
    parser.add_argument("--size", type=int, default=8000, help="pixels a side")
    parser.add_argument("--megapixels", type=float, default=None,
                        help="MAX_UPLOAD_MEGAPIXELS for the site (default: its own)")
    args = parser.parse_args()
    env = dict(os.environ, DATABASE_URL=args.database_url, THUMBNAIL_DIR=args.thumbnail_dir)
    if args.megapixels:
        env["MAX_UPLOAD_MEGAPIXELS"] = str(args.megapixels)
    for kind in KINDS:
        data = png(args.size, args.size, kind)
        status, added = measure(env, data)
        print(f"{kind} {args.size}x{args.size} PNG ({len(data) / 1e3:.0f} KB): {status}, "
              f"worker peak +{added / 1024:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
