"""One run of the job at a time per database: retiring deletes the rows of other builds.

PostgreSQL: a session-level advisory lock on a connection of its own, held for the whole run
(the run's own session commits and may change connections; an advisory lock survives
commits). SQLite: an exclusive flock on a file beside the database. Both are released by
the operating system or the server when the process dies, so a killed run never leaves a
stale lock behind. Re-entrant within a process: build_index.py holds it over the schema
migration and the run, and run_build (which any caller may use alone) takes it again.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
from typing import Iterator

from sqlalchemy import text
from sqlalchemy.orm import Session

# The advisory lock's key: any 64-bit number no other application on the server uses.
ADVISORY_KEY = 0x5113_1A6E_B11D
_held: dict[str, int] = {}  # the databases this process holds the lock of, and how deeply


class RunLocked(Exception):
    """Another run of the job holds the database: the message says so in one line."""


@contextlib.contextmanager
def one_run_at_a_time(session: Session) -> Iterator[None]:
    """Hold the database's run lock until the block ends; raise RunLocked if it is taken."""
    engine = session.get_bind()
    key = engine.url.render_as_string(hide_password=False)
    if key in _held:
        lock = contextlib.nullcontext()
    elif engine.dialect.name == "postgresql":
        lock = _advisory_lock(engine)
    elif engine.url.database and engine.url.database != ":memory:":
        lock = _file_lock(engine.url.database + ".lock")
    else:  # an in-memory database belongs to one process: nothing to share
        lock = contextlib.nullcontext()
    with lock:
        _held[key] = _held.get(key, 0) + 1
        try:
            yield
        finally:
            _held[key] -= 1
            if not _held[key]:
                del _held[key]


@contextlib.contextmanager
def _advisory_lock(engine) -> Iterator[None]:
    with engine.connect() as connection:
        taken = connection.scalar(text("SELECT pg_try_advisory_lock(:key)"),
                                  {"key": ADVISORY_KEY})
        connection.commit()  # the lock is the session's, not the transaction's
        if not taken:
            raise RunLocked(busy_message(engine.url.render_as_string(hide_password=True)))
        try:
            yield
        finally:
            connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
            connection.commit()


@contextlib.contextmanager
def _file_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(busy_message(path)) from None
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def busy_message(where: str) -> str:
    return (f"another run of the job is writing to {where}; the previous index keeps "
            "serving: run again once it has finished")
