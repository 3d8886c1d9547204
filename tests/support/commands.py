"""Run the project's commands as a user would: the job's CLI, and the site under gunicorn."""
import contextlib
import os
import subprocess
import sys
from pathlib import Path

from . import live_server

ROOT = Path(__file__).resolve().parents[2]
K = 5


def run_build(image_dir, database_url, thumbnail_dir, *extra, weights="none", map_method="none"):
    """Run scripts/build_index.py as a user would; return the CompletedProcess.

    No 2-D map unless asked (`map_method`): UMAP adds seconds to a build (its compiled code
    loads from the numba cache, its first build on a machine compiles it), and only the
    `built` indexes and the map's own tests look at it.
    """
    cmd = [sys.executable, str(ROOT / "scripts" / "build_index.py"), str(image_dir),
           "--database-url", database_url, "--thumbnail-dir", str(thumbnail_dir),
           "--weights", weights, "--no-progress", "--workers", "2", "--map", map_method,
           *map(str, extra)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=900, cwd=ROOT)


@contextlib.contextmanager
def serve(database_url, thumbnail_dir, workers=2, **settings):
    """Run gunicorn app:app on a free loopback port; yield its base URL, stop it after.

    `settings` are more environment variables for the app (PER_PAGE="10", ...).
    """
    port = live_server.free_port()
    env = dict(os.environ, DATABASE_URL=database_url, THUMBNAIL_DIR=str(thumbnail_dir),
               **settings)
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    url = f"http://127.0.0.1:{port}"
    process = live_server.start([gunicorn, "-b", f"127.0.0.1:{port}", "-w", str(workers),
                                 "app:app"], env, ROOT, url)
    try:
        yield url
    finally:
        live_server.stop(process)
