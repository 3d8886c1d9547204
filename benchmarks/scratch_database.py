"""A throw-away PostgreSQL database beside a server's, for the measuring scripts."""
import contextlib
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2


@contextlib.contextmanager
def scratch_postgres(server_url: str, prefix: str):
    """Create a database named `prefix_<random>` on the server; yield its URL; drop it after."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(server_url)
    admin.autocommit = True
    admin.cursor().execute(f"CREATE DATABASE {name}")
    parts = urlsplit(server_url)
    try:
        yield urlunsplit((parts.scheme, parts.netloc, "/" + name, "", ""))
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
