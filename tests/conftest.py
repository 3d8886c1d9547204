"""Fixtures: generated collections, a fresh PostgreSQL database, indexes built by the real CLI.

The helpers they use (and tests import) are in tests/support/.
"""
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import psycopg2
import pytest

from samples.drawn import make_collection
from webapp import create_app

from .support.commands import K, run_build
from .support.databases import new_postgres_database

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/test"


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
