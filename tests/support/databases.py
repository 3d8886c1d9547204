"""Throw-away PostgreSQL databases beside a server's (the tests' and the measuring scripts'),
and the SQL an engine sends."""
import contextlib
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2
from sqlalchemy import event

from core.db import db


@contextlib.contextmanager
def scratch_postgres(server_url: str, prefix: str, scheme: str | None = None):
    """Create a database named `prefix_<random>` on the server; yield its URL (with `scheme`,
    else the server's); drop it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    parts = urlsplit(server_url)
    try:
        yield urlunsplit((scheme or parts.scheme, parts.netloc, "/" + name, "", ""))
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()


def new_postgres_database(server_url: str):
    """Create a database, yield it as a Heroku-style postgres:// URL, drop it afterwards."""
    return scratch_postgres(server_url, "simimg_test", scheme="postgres")


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


def statements_during(app, fetch) -> list:
    """Return the (statement, parameters) the app's database engine sent while `fetch()` ran."""
    with app.app_context():
        engine = db.engine
    return sql_sent(engine, fetch)
