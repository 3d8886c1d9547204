"""What the site and the job read alike: the instance folder, the database URL, the thumbnails.

The one place that normalises database URLs; the site's other settings are webapp/config.py's.
"""
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
INSTANCE_DIR = os.path.join(ROOT, "instance")  # the Flask app's instance folder


def normalize_database_url(url: str) -> str:
    """Return a SQLAlchemy URL that uses psycopg2 for PostgreSQL.

    Heroku hands out ``postgres://`` URLs, which SQLAlchemy rejects, and SQLAlchemy 2.1 maps a
    bare ``postgresql://`` to psycopg 3; the project's driver is psycopg2, so both become
    ``postgresql+psycopg2://``. Any other URL (SQLite, an explicit driver) is left alone.
    """
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg2://" + url[len(prefix):]
    return url


def sqlite_url(instance_path: str = INSTANCE_DIR) -> str:
    """Return the embedded default database: a SQLite file in the instance folder."""
    return "sqlite:///" + os.path.join(instance_path, "index.sqlite3")


def database_url(instance_path: str = INSTANCE_DIR) -> str:
    """Return $DATABASE_URL, else the embedded SQLite database (as given: not normalised)."""
    return os.environ.get("DATABASE_URL") or sqlite_url(instance_path)


def thumbnail_dir(instance_path: str = INSTANCE_DIR) -> str:
    """Return $THUMBNAIL_DIR, else the instance folder's thumbnails/."""
    return os.environ.get("THUMBNAIL_DIR") or os.path.join(instance_path, "thumbnails")
