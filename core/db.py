"""The SQLAlchemy handle shared by the web and the offline job, and the schema's migrations."""
import os
import sqlite3

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase

from .settings import INSTANCE_DIR, ROOT, normalize_database_url

MIGRATIONS_DIR = os.path.join(ROOT, "migrations")


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


@event.listens_for(Engine, "connect")
def _tune_sqlite(dbapi_connection, _record):
    """Let readers keep reading while the job writes (WAL) and wait for locks, not fail."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def engine_for(url: str) -> Engine:
    """Return an engine for a database URL as users give it (postgres:// too), without an app.

    As the site's (Flask-SQLAlchemy's) would be: pre-ping, so that a connection the server
    dropped meanwhile is replaced, and a relative SQLite path taken in the instance folder.
    """
    parsed = make_url(normalize_database_url(url))
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:") \
            and not parsed.database.startswith("file:") and not os.path.isabs(parsed.database):
        parsed = parsed.set(database=os.path.join(INSTANCE_DIR, parsed.database))
    return create_engine(parsed, pool_pre_ping=True)


def ensure_schema(engine: Engine) -> None:
    """Apply the Alembic migrations up to the newest (creates the schema on a new database).

    The migrations/ that `flask db upgrade` runs, run here through Alembic's own API on one of
    `engine`'s connections, so that the job needs no Flask app (migrations/env.py takes the
    connection handed over, or the app's engine under Flask-Migrate).
    """
    # Imported here: Alembic costs half a second, which only the entry points need to pay.
    from alembic import command
    from alembic.config import Config
    config = Config(os.path.join(MIGRATIONS_DIR, "alembic.ini"))
    config.set_main_option("script_location", MIGRATIONS_DIR)
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
