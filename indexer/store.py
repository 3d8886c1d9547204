"""Write a build to the database in bulk and publish it atomically.

Every function takes the SQLAlchemy session it works in: the job runs the same from a
script, a test or a worker on another machine, with or without a Flask app.
"""
from __future__ import annotations

import io
from typing import Iterable, NamedTuple, Sequence

import numpy as np
from sqlalchemy import delete, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from core.records import (ACTIVE, FAILED, RETIRED, RUNNING, SUPERSEDED, Build, BuildRanking,
                          ClusterCurve, Embedding, Image, IndexedImage, MapAtlas, MapPicture,
                          Recommendation, RelatedImage, SearchIndex, utcnow)

from .explore.kmeans import Clustering, Curve
from .explore.reuse import Explored
COPY_CHUNK_ROWS = 200_000


def bulk_insert(connection: Connection, table: str, columns: Sequence[str],
                rows: Iterable[tuple]) -> None:
    """Insert rows fast: COPY on PostgreSQL, a single executemany on SQLite."""
    if connection.dialect.name == "postgresql":
        _copy(connection, table, columns, rows)
    else:
        rows = list(rows)
        if not rows:  # an empty executemany would run the statement once, without values
            return
        marks = ", ".join("?" for _ in columns)
        sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
        connection.exec_driver_sql(sql, rows)


def _copy(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]):
    cursor = connection.connection.dbapi_connection.cursor()
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN"
    buffer, count = io.StringIO(), 0
    for row in rows:
        buffer.write("\t".join(map(_copy_text, row)))
        buffer.write("\n")
        count += 1
        if count % COPY_CHUNK_ROWS == 0:
            _flush(cursor, sql, buffer)
            buffer = io.StringIO()
    _flush(cursor, sql, buffer)
    cursor.close()


def _flush(cursor, sql: str, buffer: io.StringIO) -> None:
    if buffer.tell():
        buffer.seek(0)
        cursor.copy_expert(sql, buffer)


def _copy_text(value) -> str:
    """Format one value for COPY's text format (backslash escapes, \\N for NULL)."""
    if value is None:
        return "\\N"
    if isinstance(value, bytes):
        return "\\\\x" + value.hex()
    if isinstance(value, str):
        return (value.replace("\\", "\\\\").replace("\t", "\\t")
                .replace("\n", "\\n").replace("\r", "\\r"))
    return str(value)


def image_ids(session: Session, paths: list[str]) -> dict[str, int]:
    """Return the stable id of every path, creating ids for paths never seen before."""
    known = dict(session.execute(select(Image.path, Image.id)).all())
    new = [(p,) for p in paths if p not in known]
    if new:
        bulk_insert(session.connection(), Image.__tablename__, ["path"], new)
        session.commit()
        known = dict(session.execute(select(Image.path, Image.id)).all())
    return {p: known[p] for p in paths}


def active_contents(session: Session) -> dict[str, str]:
    """Return {path: content_hash} of the index the site serves now (empty before the first)."""
    return dict(session.execute(
        select(Image.path, IndexedImage.content_hash)
        .join(IndexedImage, IndexedImage.image_id == Image.id)
        .join(Build, (Build.id == IndexedImage.build_id) & (Build.status == ACTIVE))).all())


def active_exploration(session: Session, model_key: str) -> Explored | None:
    """Return what the served build's explore stage found, if it embedded with `model_key`
    (the same vectors) and recorded how it was asked (builds before this did not)."""
    build = session.scalars(select(Build).where(Build.status == ACTIVE)).first()
    if build is None or build.model_key != model_key or "explore_options" not in build.timings:
        return None
    rows = session.execute(
        select(IndexedImage.content_hash, IndexedImage.cluster, IndexedImage.map_x,
               IndexedImage.map_y)
        .where(IndexedImage.build_id == build.id).order_by(IndexedImage.position)).all()
    curve = session.get(ClusterCurve, build.id)
    clustering = None
    if build.cluster_count is not None:
        labels = np.array([row.cluster for row in rows], dtype=np.int32)
        clustering = Clustering(build.cluster_count, build.cluster_method, labels,
                                Curve(**curve.curve) if curve else None)
    places = None
    if build.map_method is not None:
        places = np.array([(row.map_x, row.map_y) for row in rows], dtype=np.float32)
    return Explored(build.timings["explore_options"], [row.content_hash for row in rows],
                    clustering, places, build.map_method, curve.png if curve else None)


class StoredVector(NamedTuple):
    """What the store keeps of an image's embedding: its decoded size, unit vector, length."""
    width: int
    height: int
    vector: bytes        # float32, unit length
    norm: float | None   # the features' length before normalising (None: stored before)

    def unit(self) -> np.ndarray:
        return np.frombuffer(self.vector, dtype=np.float32)


def stored_embeddings(session: Session, model_key: str) -> dict[str, StoredVector]:
    """Return {content_hash: StoredVector} made by this model and weights."""
    rows = session.execute(
        select(Embedding.content_hash, Embedding.width, Embedding.height, Embedding.vector,
               Embedding.norm)
        .where(Embedding.model_key == model_key))
    return {h: StoredVector(w, ht, bytes(v), norm) for h, w, ht, v, norm in rows}


def save_embeddings(session: Session, model_key: str,
                    rows: list[tuple[str, StoredVector]]) -> None:
    """Store and commit a batch of (hash, StoredVector), replacing any older rows of them.

    An image is embedded again when its thumbnail went missing or its length was not kept;
    its old row goes in the same transaction as the new one arrives, so a failed run never
    leaves the served index without the vector.
    """
    if not rows:
        return
    session.execute(delete(Embedding).where(Embedding.model_key == model_key,
                                            Embedding.content_hash.in_([h for h, _ in rows])))
    bulk_insert(session.connection(), Embedding.__tablename__,
                ["model_key", "content_hash", "width", "height", "vector", "norm"],
                ((model_key, h, *stored) for h, stored in rows))
    session.commit()


ORIGIN_COLUMNS = ["format", "jpeg_quality", "captured_at", "modified_at"]


def save_build_rows(session: Session, build_id: int, images: list[tuple], ids: np.ndarray,
                    scores: np.ndarray, clusters: np.ndarray | None = None,
                    places: np.ndarray | None = None, related: list[tuple] = (),
                    cosines: np.ndarray | None = None) -> None:
    """Store a build's images, their lists and their copies and distinct lists.

    `images` (in gallery order): (id, hash, width, height, size, *ORIGIN_COLUMNS' values).
    `ids` are positions into `images`, as the neighbour search returns them; `clusters` and
    `places` (x, y) are per image in the same order, or None where the build has none;
    `related` rows are (position, kind, rank, other position, score[, cosine])
    (neighbors/distinct.py); `cosines` are the raw cosines beside `scores`, or None.
    """
    connection = session.connection()
    bulk_insert(connection, IndexedImage.__tablename__,
                ["build_id", "image_id", "position", "content_hash", "width", "height",
                 "file_size", *ORIGIN_COLUMNS, "cluster", "map_x", "map_y"],
                ((build_id, image[0], position, *image[1:5], *origin_values(image[5:]),
                  *explored)
                 for position, (image, explored)
                 in enumerate(zip(images, explored_values(len(images), clusters, places)))))
    image_id_of = np.array([row[0] for row in images], dtype=np.int64)
    similar_ids = image_id_of[ids] if ids.size else ids
    bulk_insert(connection, Recommendation.__tablename__,
                ["build_id", "image_id", "rank", "similar_id", "score", "cosine"],
                ((build_id, int(image_id_of[i]), rank, int(similar_ids[i, rank]),
                  float(scores[i, rank]), None if cosines is None else float(cosines[i, rank]))
                 for i in range(len(images)) for rank in range(ids.shape[1])))
    bulk_insert(connection, RelatedImage.__tablename__,
                ["build_id", "image_id", "kind", "rank", "similar_id", "score", "cosine"],
                ((build_id, int(image_id_of[row]), kind, rank, int(image_id_of[other]), score,
                  cosine[0] if cosine else None)
                 for row, kind, rank, other, score, *cosine in related))
    session.commit()


def origin_values(values: tuple) -> tuple:
    """Return an image's ORIGIN_COLUMNS values, None for each one not given."""
    return tuple(values) + (None,) * (len(ORIGIN_COLUMNS) - len(values))


def explored_values(count: int, clusters: np.ndarray | None, places: np.ndarray | None):
    """Yield (cluster, x, y) per image as plain Python values, None where absent."""
    for i in range(count):
        cluster = int(clusters[i]) if clusters is not None else None
        x, y = (float(places[i, 0]), float(places[i, 1])) if places is not None else (None, None)
        yield cluster, x, y


def save_cluster_curve(session: Session, build_id: int, png: bytes, curve: dict) -> None:
    """Store the PNG and numbers of the curve that chose a build's k."""
    session.add(ClusterCurve(build_id=build_id, png=png, curve=curve))
    session.commit()


def save_map_pictures(session: Session, build_id: int, image_ids: list[int], pictures) -> None:
    """Store how the map draws each image (indexer/explore/map_pictures.py) and the atlases."""
    bulk_insert(session.connection(), MapPicture.__tablename__,
                ["build_id", "image_id", "level", "grid_level", "grid_x", "grid_y", "atlas_slot"],
                ((build_id, image_id, int(pictures.levels[i]), int(pictures.grid_levels[i]),
                  float(pictures.grid[i, 0]), float(pictures.grid[i, 1]),
                  int(pictures.atlases.slots[i]))
                 for i, image_id in enumerate(image_ids)))
    session.add(MapAtlas(build_id=build_id, atlas=pictures.atlases.as_json()))
    session.commit()


def save_ranking(session: Session, build_id: int, space) -> None:
    """Store the ranking space a build learned (ranking/space.RankingSpace), unless raw."""
    if space.steps == "raw":
        return
    augmentation = None
    if space.neighbours is not None:
        out = io.BytesIO()
        np.savez(out, neighbours=space.neighbours, weights=space.weights)
        augmentation = out.getvalue()
    session.add(BuildRanking(build_id=build_id, steps=space.steps,
                             settings=space.settings.as_json(),
                             whitening=space.whitening and space.whitening.to_bytes(),
                             augmentation=augmentation))
    session.commit()


def save_search_index(session: Session, build_id: int, built) -> None:
    """Store a build's approximate search index (search_index.BuiltSearchIndex)."""
    session.add(SearchIndex(build_id=build_id, kind=built.kind, parameters=built.parameters,
                            recall_at_10=built.recall_at_10, sample_size=built.sample_size,
                            data=built.data))
    session.commit()


def publish(session: Session, build: Build) -> bool:
    """Make `build` the served index in one transaction: readers see the old or the new.

    Only a build still RUNNING is published (False otherwise): one whose rows another run
    retired must not become an empty index.
    """
    session.flush()  # the build's counts and timings, in the same transaction
    session.execute(update(Build).where(Build.status == ACTIVE).values(status=SUPERSEDED))
    published = session.execute(
        update(Build).where(Build.id == build.id, Build.status == RUNNING)
        .values(status=ACTIVE, finished_at=utcnow())).rowcount == 1
    if not published:
        session.rollback()
        return False
    session.commit()
    return True


def mark_failed(session: Session, build_id: int) -> None:
    """Record a run's build as FAILED, unless it was published (or retired) meanwhile."""
    session.execute(update(Build).where(Build.id == build_id, Build.status == RUNNING)
                    .values(status=FAILED, finished_at=utcnow()))
    session.commit()


def retire_old_builds(session: Session) -> None:
    """Delete the rows of every build but the active one and the one it replaced.

    The replaced build's rows stay until the next publish, so a request that looked up the
    old build id just before the switch still finds its rows.
    """
    keep = session.scalars(select(Build.id).where(Build.status.in_([ACTIVE, SUPERSEDED]))
                              .order_by(Build.id.desc()).limit(2)).all()
    old = session.scalars(select(Build.id).where(
        Build.id.not_in(keep), Build.status.in_([SUPERSEDED, FAILED, RUNNING]))).all()
    if not old:
        return
    for table in (IndexedImage, Recommendation, RelatedImage, ClusterCurve, SearchIndex,
                  MapPicture, MapAtlas, BuildRanking):
        session.execute(delete(table).where(table.build_id.in_(old)))
    session.execute(update(Build).where(Build.id.in_(old), Build.status == SUPERSEDED)
                       .values(status=RETIRED))
    session.execute(update(Build).where(Build.id.in_(old), Build.status == RUNNING)
                       .values(status=FAILED))
    session.commit()
