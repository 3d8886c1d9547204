"""Fixtures: generated collections, a fresh PostgreSQL database, indexes built by the real CLI."""
import contextlib
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg2
import pytest
from sqlalchemy import event

import live_server

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from samples.drawn import make_collection  # noqa: E402
from webapp import create_app  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"
K = 5


def run_build(image_dir, database_url, thumbnail_dir, *extra, weights="none", map_method="none"):
    """Run scripts/build_index.py as a user would; return the CompletedProcess.

    No 2-D map unless asked (`map_method`): UMAP's numba compile adds about 9 s to every
    build process, and only the `built` indexes and the map's own tests look at it.
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


def sql_sent(engine, fetch) -> list[tuple[str, object]]:
    """Run `fetch()` and return the (statement, parameters) the engine sent meanwhile."""
    seen = []

    def record(_conn, _cursor, statement, parameters, *_args):
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        fetch()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return seen


@dataclass
class Collection:
    root: Path
    groups: dict  # relative path -> group number
    broken: list  # relative paths of files that must be skipped


@pytest.fixture(scope="session")
def collection(tmp_path_factory) -> Collection:
    """Eight groups of six transformed copies, plus two files that are not images."""
    root = tmp_path_factory.mktemp("collection")
    groups = make_collection(str(root), groups=8, per_group=6, seed=1)
    (root / "broken.jpg").write_text("this is not a JPEG")
    (root / "notes.txt").write_text("not an image extension: ignored, not skipped")
    (root / "empty.png").write_bytes(b"")
    return Collection(root, groups, ["broken.jpg", "empty.png"])


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """Return the URL of a reachable PostgreSQL server, or skip (fail in CI) with the reason."""
    url = os.environ.get("TEST_DATABASE_URL", DEFAULT_POSTGRES)
    try:
        psycopg2.connect(url, connect_timeout=5).close()
    except psycopg2.Error as exc:
        reason = f"PostgreSQL is not reachable at {url}: {str(exc).strip()}"
        if os.environ.get("REQUIRE_POSTGRES"):
            pytest.fail(reason)
        pytest.skip(reason)
    return url


@contextlib.contextmanager
def new_postgres_database(server_url: str):
    """Create a database, yield it as a Heroku-style postgres:// URL, drop it afterwards."""
    name = f"simimg_test_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(("postgres", parts.netloc, "/" + name, "", ""))
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """A fresh database for this test session's shared indexes."""
    with new_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture
def empty_postgres_url(postgres_server) -> str:
    """A database of one test's own, empty (postgres_url is shared with the built index)."""
    with new_postgres_database(postgres_server) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """An empty database of each backend for one test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    else:
        with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
            yield url


@dataclass
class BuiltIndex:
    backend: str
    url: str
    thumbnails: Path
    collection: Collection
    result: subprocess.CompletedProcess


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def built(request, collection, tmp_path_factory) -> BuiltIndex:
    """The collection indexed with k=5 and random weights, once per database backend."""
    folder = tmp_path_factory.mktemp(f"index-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{folder / 'index.sqlite3'}"
    else:
        url = request.getfixturevalue("postgres_url")
    result = run_build(collection.root, url, folder / "thumbnails", "--k", K, map_method="umap")
    assert result.returncode == 0, result.stderr
    return BuiltIndex(request.param, url, folder / "thumbnails", collection, result)


@pytest.fixture
def app(built):
    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "THUMBNAIL_DIR": str(built.thumbnails),
                      "TESTING": True})
    yield app
    with app.app_context():
        from core.db import db
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()
