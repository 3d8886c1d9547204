#!/usr/bin/env python
"""Bytes a row takes in PostgreSQL, with its indexes: `recommendations` and `embeddings`.

    postgres_row_bytes.py [--url postgresql://postgres@127.0.0.1:5432/test] [--rows 1000000]
        [--embeddings 20000] [--dim 1280]

Creates a scratch database on the server named, creates the two tables from the app's
models, COPYs `--rows` recommendation rows (k = 10 a image) and inserts `--embeddings` vectors
of `--dim` floats, prints the bytes a row (table, indexes, total; one JSON object last) and
drops the database. The README's projection for 10M and 100M images multiplies these.
"""
import argparse
import io
import json
import os
import sys
import uuid

import numpy as np
import psycopg2
import sqlalchemy as sa

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support.databases import scratch_postgres  # noqa: E402
from core.settings import normalize_database_url  # noqa: E402
from core.records import Embedding, Recommendation  # noqa: E402

K = 10


def fill(engine, rows: int, embeddings: int, dim: int) -> None:
    rng = np.random.default_rng(0)
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        text = io.StringIO()
        for image in range(rows // K):
            for rank in range(K):
                text.write(f"1\t{image + 1}\t{rank}\t{rng.integers(1, rows // K)}\t"
                           f"{0.9 - rank / 100}\n")
        text.seek(0)
        cursor.copy_expert("COPY recommendations (build_id, image_id, rank, similar_id, "
                           "score) FROM STDIN", text)
        cursor.executemany(
            "INSERT INTO embeddings (model_key, content_hash, width, height, vector, norm) "
            "VALUES (%s, %s, 640, 480, %s, 1.0)",
            [("efficientnet_lite0:imagenet", uuid.uuid4().hex,
              psycopg2.Binary(rng.standard_normal(dim).astype(np.float32).tobytes()))
             for _ in range(embeddings)])
        connection.commit()
    finally:
        connection.close()


def bytes_per_row(engine, table: str, count: int) -> dict:
    with engine.connect() as connection:
        table_bytes, index_bytes = connection.execute(sa.text(
            f"SELECT pg_table_size('{table}'), pg_indexes_size('{table}')")).one()
    return {"rows": count, "table": round(table_bytes / count, 1),
            "indexes": round(index_bytes / count, 1),
            "total": round((table_bytes + index_bytes) / count, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", default=os.environ.get(
        "TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--embeddings", type=int, default=20_000)
    parser.add_argument("--dim", type=int, default=1280)
    args = parser.parse_args()
    with scratch_postgres(args.url, "row_bytes") as url:
        engine = sa.create_engine(normalize_database_url(url))
        try:
            Recommendation.__table__.create(engine)
            Embedding.__table__.create(engine)
            fill(engine, args.rows, args.embeddings, args.dim)
            result = {"recommendations": bytes_per_row(engine, "recommendations", args.rows),
                      "embeddings": bytes_per_row(engine, "embeddings", args.embeddings),
                      "dim": args.dim}
        finally:
            engine.dispose()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
