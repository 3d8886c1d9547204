"""The Procfile played by honcho as Heroku plays it, on an empty postgres:// database.

Release phase (migrations), then the offline job from "another machine" against the same
DATABASE_URL, then the web process on $PORT; the pages and the API answer, and a second
publish is picked up by the running workers within INDEX_REFRESH_SECONDS.
"""
import os
import shutil
import subprocess
import sys
import time

import psycopg2
import requests

from tests.support import live_server
from tests.support.commands import K, ROOT, run_build

REFRESH_SECONDS = 1


def honcho_start(*args) -> list[str]:
    # --env: a developer's .env (their own DATABASE_URL) must not override the test's.
    return [sys.executable, "-m", "honcho", "start", "--procfile", "Procfile",
            "--app-root", str(ROOT), "--env", os.devnull, "--no-colour", *args]


def test_procfile_release_job_web_on_an_empty_postgres_database(empty_postgres_url, collection,
                                                               tmp_path):
    thumbnails = tmp_path / "thumbnails"
    bin_dir = os.path.dirname(sys.executable)  # gunicorn and flask of this virtualenv
    env = dict(os.environ, DATABASE_URL=empty_postgres_url, THUMBNAIL_DIR=str(thumbnails),
               WEB_CONCURRENCY="2", INDEX_REFRESH_SECONDS=str(REFRESH_SECONDS),
               PATH=bin_dir + os.pathsep + os.environ["PATH"])

    release = subprocess.run(honcho_start("release"), cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=120)
    assert release.returncode == 0, release.stdout + release.stderr
    with psycopg2.connect(empty_postgres_url) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT version_num FROM alembic_version")
        assert cursor.fetchone() is not None
        cursor.execute("SELECT count(*) FROM builds")
        assert cursor.fetchone() == (0,)

    job = run_build(collection.root, empty_postgres_url, thumbnails, "--k", K)
    assert job.returncode == 0, job.stderr

    port = live_server.free_port()
    base = f"http://127.0.0.1:{port}"
    web = live_server.start(honcho_start("--port", str(port), "web"), env, ROOT, base)
    try:
        total = len(collection.groups)
        live_server.check_contract(base, total, K)

        # Publish a smaller collection while the site runs: every worker shows it shortly.
        smaller = tmp_path / "smaller"
        for path in sorted(collection.groups)[:12]:
            (smaller / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(collection.root / path, smaller / path)
        assert run_build(smaller, empty_postgres_url, thumbnails, "--k", K).returncode == 0
        time.sleep(REFRESH_SECONDS + 0.5)
        for _ in range(10):  # the requests spread over both workers
            assert requests.get(base + "/api/images").json()["total"] == 12
            assert "12 images" in requests.get(base + "/").text
    finally:
        output = live_server.stop(web)
    assert "GET /api/images" in output  # gunicorn's access log goes to stdout
    assert f"rendered {total + 2} pages" in output  # "/", "/?page=1" and the image pages
