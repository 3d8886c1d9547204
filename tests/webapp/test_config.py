"""Settings: database URLs (postgres:// accepted) and the embedded default."""
import pytest

from webapp import create_app
from core.settings import normalize_database_url


@pytest.mark.parametrize("given,expected", [
    ("postgres://u:p@host:5432/db", "postgresql+psycopg2://u:p@host:5432/db"),
    ("postgresql://u@host/db", "postgresql+psycopg2://u@host/db"),
    ("postgresql+psycopg2://u@host/db", "postgresql+psycopg2://u@host/db"),
    ("sqlite:////tmp/x.sqlite3", "sqlite:////tmp/x.sqlite3"),
])
def test_database_urls_are_normalised_to_psycopg2(given, expected):
    assert normalize_database_url(given) == expected


def test_heroku_style_environment_is_read(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgres://app@db.example:5432/prod")
    monkeypatch.setenv("IMAGE_DIR", str(tmp_path))
    monkeypatch.setenv("MAX_UPLOAD_MB", "5")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://app@db.example:5432/prod"
    assert app.config["IMAGE_DIR"] == str(tmp_path)
    assert app.config["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024


def test_default_database_is_sqlite_in_the_instance_folder(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///")
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("/instance/index.sqlite3")


def test_overrides_are_normalised_too():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgres://x@y/z"})
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg2://x@y/z"
