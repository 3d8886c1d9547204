"""benchmark.py store: neighbour rows per second, the project's bulk way vs one ORM insert a row."""
import tempfile
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg2

from webapp import create_app
from core.db import db, ensure_schema
from core.records import Recommendation
from indexer.store import bulk_insert

COLUMNS = ["build_id", "image_id", "rank", "similar_id", "score"]


def rows_for(build_id: int, count: int, k: int = 10):
    return [(build_id, i // k, i % k, (i * 7919) % count, 1.0 - (i % k) / 100)
            for i in range(count)]


def measure(database_url: str, rows: int, orm_rows: int) -> dict:
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    with app.app_context():
        ensure_schema(db.engine)
        bulk = rows_for(1, rows)
        started = time.perf_counter()
        bulk_insert(db.session.connection(), "recommendations", COLUMNS, bulk)
        db.session.commit()
        bulk_s = time.perf_counter() - started

        started = time.perf_counter()
        for row in rows_for(2, orm_rows):
            db.session.add(Recommendation(**dict(zip(COLUMNS, row))))
            db.session.flush()
        db.session.commit()
        orm_s = time.perf_counter() - started
        dialect = db.engine.dialect.name
        db.engine.dispose()
    return {"rows": rows, "method": "COPY" if dialect == "postgresql" else "executemany",
            "rows_per_s": round(rows / bulk_s), "orm_rows": orm_rows,
            "orm_rows_per_s": round(orm_rows / orm_s),
            "speedup": round((rows / bulk_s) / (orm_rows / orm_s), 1)}


def measure_store(rows: int, orm_rows: int, postgres_url: str) -> dict:
    """Measure into a fresh SQLite file and a fresh PostgreSQL database (when reachable)."""
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        results["SQLite"] = measure(f"sqlite:///{tmp}/bench.sqlite3", rows, orm_rows)
    try:
        admin = psycopg2.connect(postgres_url, connect_timeout=5)
    except psycopg2.Error as exc:
        results["PostgreSQL"] = {"skipped": str(exc).strip()}
        return results
    admin.autocommit = True
    name = f"simimg_bench_{uuid.uuid4().hex[:8]}"
    admin.cursor().execute(f"CREATE DATABASE {name}")
    try:
        parts = urlsplit(postgres_url)
        results["PostgreSQL"] = measure(urlunsplit((parts.scheme, parts.netloc, "/" + name,
                                                    "", "")), rows, orm_rows)
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.close()
    return results
