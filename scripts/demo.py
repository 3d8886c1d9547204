#!/usr/bin/env python
"""`make demo`: make a demo collection, index it into the embedded SQLite database, serve it.

ImageNet weights are used when they can be had. Where they cannot (no network), this demo,
and only this demo, says so and continues with seeded random weights; the site's header
says so too. build_index.py itself never falls back.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from scripts.demo_images import make_collection  # noqa: E402
from webapp.config import sqlite_url  # noqa: E402

EXIT_NO_WEIGHTS = 3


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dir", default=os.path.join(ROOT, "demo_images"))
    parser.add_argument("--port", default="5000")
    args = parser.parse_args()
    if not os.path.isdir(args.dir):
        members = make_collection(args.dir)
        print(f"made {len(members)} demo images in {args.dir}")
    database = sqlite_url(os.path.join(ROOT, "instance"))
    build = [sys.executable, os.path.join(ROOT, "scripts", "build_index.py"), args.dir,
             "--database-url", database]
    status = subprocess.call(build + ["--weights", "imagenet"])
    if status == EXIT_NO_WEIGHTS:
        print("\n*** The ImageNet weights could not be downloaded (no network?).\n"
              "*** The demo continues with --weights none: random weights, so similarity\n"
              "*** follows colour and texture, not content. The site's header says so too.\n",
              file=sys.stderr)
        status = subprocess.call(build + ["--weights", "none"])
    if status != 0:
        return status
    print(f"serving on http://127.0.0.1:{args.port} (Ctrl-C to stop)")
    env = dict(os.environ, DATABASE_URL=database)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    return subprocess.call([gunicorn, "--chdir", ROOT, "-b", f"127.0.0.1:{args.port}",
                            "-w", "2", "--access-logfile", "-", "app:app"], env=env)


if __name__ == "__main__":
    sys.exit(main())
