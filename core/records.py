"""Typed SQLAlchemy models: builds, images, their place in a build, recommendations, embeddings.

An index is one row of `builds`; its rows in `indexed_images` and `recommendations` carry its id.
The job writes a whole build while the site keeps reading the active one, then publishes it
by flipping `status` in one short transaction, so a reader sees the old index or the new one.
The bulk tables have no foreign keys on purpose: the job loads them with COPY, and the publish
transaction is what keeps them consistent.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (JSON, Float, Index, Integer, LargeBinary, String, Text, bindparam,
                        select, text)
from sqlalchemy.orm import Mapped, mapped_column

from .db import db

ACTIVE = "active"          # the index the site serves; at most one
SUPERSEDED = "superseded"  # the one before it, kept until the next publish so readers never miss
RETIRED = "retired"        # older still: its rows are deleted, its record and skip report stay
RUNNING = "running"
FAILED = "failed"


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


class Build(db.Model):
    """One run of the offline job: what it used, what it found, and whether it is served."""

    __tablename__ = "builds"
    __table_args__ = (
        Index("one_active_build", "status", unique=True,
              sqlite_where=text("status = 'active'"),
              postgresql_where=text("status = 'active'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(16), default=RUNNING)
    root: Mapped[str] = mapped_column(Text)
    model: Mapped[str] = mapped_column(String(64))
    weights: Mapped[str] = mapped_column(String(255))
    model_key: Mapped[str] = mapped_column(String(255))
    # none, mirror or dihedral: the flips and rotations each embedding was averaged over
    invariance: Mapped[str] = mapped_column(String(16), default="none", server_default="none")
    # cosine, euclidean or dot: what the recommendations are ranked by (core/metrics.py)
    metric: Mapped[str] = mapped_column(String(16), default="cosine", server_default="cosine")
    k: Mapped[int] = mapped_column(Integer)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    seconds: Mapped[float | None] = mapped_column(Float)
    timings: Mapped[dict] = mapped_column(JSON, default=dict)
    skipped: Mapped[list] = mapped_column(JSON, default=list)
    # The explore stage: how many clusters and how k was chosen (auto, fixed), and the map's
    # method (umap, tsne); None where the build has none (or predates them).
    cluster_count: Mapped[int | None] = mapped_column(Integer)
    cluster_method: Mapped[str | None] = mapped_column(String(16))
    map_method: Mapped[str | None] = mapped_column(String(16))

    @classmethod
    def active(cls) -> Build | None:
        """Return the build the site serves, or None before the first publish."""
        return db.session.scalars(select(cls).where(cls.status == ACTIVE)).first()

    @property
    def random_weights(self) -> bool:
        return self.weights == "none"

    @property
    def ranking(self) -> str:
        """Return the ranking steps the lists were ranked after (whiten+dba...), or raw."""
        return (self.timings or {}).get("ranking", "raw")

    def page(self, page: int, per_page: int):
        """Return the rows of gallery page `page` (1-based): id, path, content_hash.

        Positions are dense (0..N-1 in path order), so every page, the last of a big
        collection too, is an index range scan rather than an OFFSET that reads and skips.
        """
        start = (page - 1) * per_page
        return _rows(PAGE_QUERY, build_id=self.id, start=start, stop=start + per_page).all()

    def image(self, image_id: int):
        """Return one image of this build (id, path, hash, size, dimensions, position)."""
        return _rows(IMAGE_QUERY, build_id=self.id, image_id=image_id).first()

    def similar(self, image_id: int):
        """Return an image's stored recommendations, best first, in one query."""
        return _rows(SIMILAR_QUERY, build_id=self.id, image_id=image_id).all()

    def related(self, image_id: int):
        """Return an image's copies and distinct list (kind, id, path, hash, score), in
        order; none where its stored list is distinct already (see RelatedImage)."""
        return _rows(RELATED_QUERY, build_id=self.id, image_id=image_id).all()

    def with_content(self, content_hash: str):
        """Return the images of this build whose file has this content (id, path, hash)."""
        return _rows(CONTENT_QUERY, build_id=self.id, content_hash=content_hash).all()

    def images(self, image_ids) -> dict:
        """Return {id: row (id, path, content_hash)} for the given ids of this build."""
        return {row.id: row for row in self._rows(Image.id.in_(list(image_ids)))}

    def at_positions(self, positions) -> dict:
        """Return {gallery position: row (id, path, content_hash, position)}."""
        return {row.position: row
                for row in self._rows(IndexedImage.position.in_(list(positions)))}

    def _rows(self, condition):
        return db.session.execute(
            select(Image.id, Image.path, IndexedImage.content_hash, IndexedImage.position)
            .join(IndexedImage, IndexedImage.image_id == Image.id)
            .where(IndexedImage.build_id == self.id, condition)).all()


class Image(db.Model):
    """A file of the collection, by its path relative to the root; its id outlives builds."""

    __tablename__ = "images"

    id: Mapped[int] = mapped_column(primary_key=True)
    path: Mapped[str] = mapped_column(Text, unique=True)


class IndexedImage(db.Model):
    """An image as a build saw it: its gallery position, content hash and size."""

    __tablename__ = "indexed_images"
    __table_args__ = (Index("indexed_images_position", "build_id", "position", unique=True),
                      # An upload's exact copies, and a group's same-content members.
                      Index("indexed_images_content", "build_id", "content_hash"))

    build_id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    file_size: Mapped[int] = mapped_column(Integer)
    cluster: Mapped[int | None] = mapped_column(Integer)  # 0 = the build's largest cluster
    map_x: Mapped[float | None] = mapped_column(Float)    # the 2-D map's place, in [0, 1]
    map_y: Mapped[float | None] = mapped_column(Float)
    # Where the file came from, for choosing the original among copies (webapp/duplicates/keeper.py):
    # Pillow's format name, the JPEG quality its tables imply, the EXIF capture time and the
    # file's modification time (UTC). NULL where unknown (an object, a header not read).
    format: Mapped[str | None] = mapped_column(String(8))
    jpeg_quality: Mapped[int | None] = mapped_column(Integer)
    captured_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]


class RelatedImage(db.Model):
    """An image's copies and its list of distinct images, where they differ from its list.

    Only images whose stored list holds a copy (of the image, or of another image listed)
    have rows: for every other image, the list of recommendations is already distinct and
    its copies are none. kind "copy": an exact copy or near-duplicate of the image, closest
    first; kind "distinct": the image page's "Most similar", none a copy of the image or of
    another listed image (indexer/neighbors/distinct.py).
    """

    __tablename__ = "related_images"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(8), primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True)
    similar_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    # The raw cosine of the two embeddings (what copies and tiers use); `score` is what the
    # list ranks by. NULL in builds made before it was kept.
    cosine: Mapped[float | None] = mapped_column(Float)


class BuildRanking(db.Model):
    """The ranking space a build learned from its collection (core/ranking.py applies it).

    The web applies it to an upload: the whitening to the query and the matrix, the
    augmentation (each image's neighbours and weights, by gallery position) to the matrix.
    A build ranked by the raw cosine has none.
    """

    __tablename__ = "build_rankings"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    steps: Mapped[str] = mapped_column(String(32))  # whiten+dba, whiten, dba
    settings: Mapped[dict] = mapped_column(JSON)    # dims, power, neighbours, alpha
    # NumPy .npz files: mean and projection; neighbours and weights. Deferred: the web reads
    # the steps on every look-up, the arrays once per worker.
    whitening: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    augmentation: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)


class ClusterCurve(db.Model):
    """The curve that chose a build's k (auto only): its PNG and the numbers drawn.

    A table of its own, not a column of `builds`: the web looks the active build up every
    few seconds and must not fetch the picture each time.
    """

    __tablename__ = "cluster_curves"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    png: Mapped[bytes] = mapped_column(LargeBinary)
    curve: Mapped[dict] = mapped_column(JSON)  # ks, inertias, silhouettes, elbow, chosen


class MapPicture(db.Model):
    """How the map page draws an image: its zoom level, its grid cell and its atlas cell.

    `level`: the coarsest zoom at which it is its cell's picture (indexer/explore/zoom_levels.py),
    on the scatter and on the grid; `grid_x`, `grid_y`: its cell's centre on the grid view, in
    [0, 1] like map_x and map_y; `atlas_slot`: where its small picture is in the build's sheets
    (MapAtlas). Builds from before atlases, or with --map none, have no rows.
    """

    __tablename__ = "map_pictures"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(primary_key=True)
    level: Mapped[int] = mapped_column(Integer)
    grid_level: Mapped[int] = mapped_column(Integer)
    grid_x: Mapped[float] = mapped_column(Float)
    grid_y: Mapped[float] = mapped_column(Float)
    atlas_slot: Mapped[int] = mapped_column(Integer)


class MapAtlas(db.Model):
    """A build's sprite sheets of small thumbnails: their cell size, columns and names.

    A table of its own, like ClusterCurve: the web looks the build up every few seconds and
    needs the names only for the map.
    """

    __tablename__ = "map_atlases"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    atlas: Mapped[dict] = mapped_column(JSON)  # {"cell", "columns", "sheets": [name, ...]}


class SearchIndex(db.Model):
    """A build's approximate search index (FAISS) for search by upload, and its facts.

    Only builds past the job's size threshold have one (indexer/search_index.py).
    Kept in the database, like the ONNX embedder, so that a web host needs nothing but
    DATABASE_URL; each machine writes the bytes once to a local file it memory-maps.
    """

    __tablename__ = "search_indexes"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))  # FAISS's index_factory string
    parameters: Mapped[dict] = mapped_column(JSON)  # nlist, m, nprobe, candidates, metric
    recall_at_10: Mapped[float] = mapped_column(Float)  # vs exact search, on `sample_size`
    sample_size: Mapped[int] = mapped_column(Integer)
    # Deferred: the web reads the facts at every look-up, the bytes once per machine.
    data: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Recommendation(db.Model):
    """The image at `rank` (0 = most similar) of another image's list in a build."""

    __tablename__ = "recommendations"

    build_id: Mapped[int] = mapped_column(primary_key=True)
    image_id: Mapped[int] = mapped_column(primary_key=True)
    rank: Mapped[int] = mapped_column(primary_key=True)
    similar_id: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    cosine: Mapped[float | None] = mapped_column(Float)  # as RelatedImage.cosine


class Embedding(db.Model):
    """An L2-normalised float32 vector, keyed by content and by the model that made it.

    Keying by content lets re-runs and renamed or duplicated files reuse the work; keying by
    model keeps the vectors of two models (or two weight files) from ever being mixed.
    """

    __tablename__ = "embeddings"

    model_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The decoded size travels with the vector: a re-run that reuses it need not decode again.
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    vector: Mapped[bytes] = mapped_column(LargeBinary)
    # The vector's length before normalisation: raw features = vector * norm (euclidean and
    # dot-product indexes rank those). NULL for vectors stored before it was kept.
    norm: Mapped[float | None] = mapped_column(Float)

    @classmethod
    def unit_vectors(cls, model_key: str, hashes, chunk: int = 5_000) -> dict:
        """Return {content hash: float32 unit vector (NumPy)} of a model's given hashes, a
        few thousand per query (SQLite allows 32,766 parameters a statement)."""
        import numpy as np
        hashes = sorted(hashes)
        found = {}
        for start in range(0, len(hashes), chunk):
            rows = db.session.execute(select(cls.content_hash, cls.vector).where(
                cls.model_key == model_key, cls.content_hash.in_(hashes[start:start + chunk])))
            found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
        return found


class StoredEmbedder(db.Model):
    """The exact embedder a model_key's vectors came from, as ONNX, for the web's search.

    Kept in the database so that a web process on another host needs nothing but
    DATABASE_URL; written once per model_key by the offline job.
    """

    __tablename__ = "embedders"

    model_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    # uint8 NHWC crop in, the model's float32 features out (the web normalises them); graphs
    # stored before EXPORT_VERSION 5 gave unit vectors (preprocessing["output"] says which).
    onnx: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    # float16 rows x float32 query -> float32 scores, so the web needs no ONNX builder.
    scorer_onnx: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    preprocessing: Mapped[dict] = mapped_column(JSON)
    dim: Mapped[int] = mapped_column(Integer)
    near_duplicate_threshold: Mapped[float | None] = mapped_column(Float)
    calibration: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    @classmethod
    def facts(cls, model_key: str, weights: str, metric: str = "cosine",
              session=None) -> tuple[float | None, int | None]:
        """Return (near-duplicate threshold, dimension) of a model, None if unknown.

        The threshold is None for random weights (label "none") too: random features make
        unrelated pictures score alike, so a threshold calibrated on them would call mixed
        images near-duplicates. And for the raw-feature metrics: it is a cosine similarity.
        Only exact copies are told apart then. `session`: the job's (default: the site's).
        """
        row = (session or db.session).execute(select(cls.near_duplicate_threshold, cls.dim)
                                              .where(cls.model_key == model_key)).first()
        if row is None:
            return None, None
        usable = weights != "none" and metric == "cosine"
        return (row[0] if usable else None), row[1]


class TrainedModel(db.Model):
    """How a trained model (the autoencoder) came to be: settings, losses and pictures of it.

    Keyed by model_key like the embedder, and in the database for the same reason: the
    site's /model page shows it from a host that has nothing but DATABASE_URL.
    """

    __tablename__ = "trained_models"

    model_key: Mapped[str] = mapped_column(String(255), primary_key=True)
    settings: Mapped[dict] = mapped_column(JSON)  # latent, image_size, epochs, batch size, ...
    # Per epoch (train_loss, validation_loss, learning_rate) and the run's facts (best_epoch,
    # epochs_run, seconds, images, device, precision).
    history: Mapped[dict] = mapped_column(JSON)
    loss_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    reconstructions_png: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _rows(statement, **parameters):
    """Run a page query on the session's connection: plain rows, no ORM step (half the cost)."""
    return db.session.connection().execute(statement, parameters)


# The page queries, built once: composing a statement costs more than running it on a warm
# database, and these run on every uncached page.
PAGE_QUERY = (
    select(Image.id, Image.path, IndexedImage.content_hash)
    .join(IndexedImage, IndexedImage.image_id == Image.id)
    .where(IndexedImage.build_id == bindparam("build_id"),
           IndexedImage.position >= bindparam("start"),
           IndexedImage.position < bindparam("stop"))
    .order_by(IndexedImage.position))

IMAGE_QUERY = (
    select(Image.id, Image.path, IndexedImage.content_hash, IndexedImage.width,
           IndexedImage.height, IndexedImage.file_size, IndexedImage.position,
           IndexedImage.cluster)
    .join(IndexedImage, IndexedImage.image_id == Image.id)
    .where(IndexedImage.build_id == bindparam("build_id"), Image.id == bindparam("image_id")))

SIMILAR_QUERY = (
    select(Image.id, Image.path, IndexedImage.content_hash, Recommendation.score,
           Recommendation.cosine)
    .join(Image, Image.id == Recommendation.similar_id)
    .join(IndexedImage, (IndexedImage.build_id == Recommendation.build_id)
          & (IndexedImage.image_id == Recommendation.similar_id))
    .where(Recommendation.build_id == bindparam("build_id"),
           Recommendation.image_id == bindparam("image_id"))
    .order_by(Recommendation.rank))

RELATED_QUERY = (
    select(RelatedImage.kind, Image.id, Image.path, IndexedImage.content_hash,
           RelatedImage.score, RelatedImage.cosine)
    .join(Image, Image.id == RelatedImage.similar_id)
    .join(IndexedImage, (IndexedImage.build_id == RelatedImage.build_id)
          & (IndexedImage.image_id == RelatedImage.similar_id))
    .where(RelatedImage.build_id == bindparam("build_id"),
           RelatedImage.image_id == bindparam("image_id"))
    .order_by(RelatedImage.kind, RelatedImage.rank))

CONTENT_QUERY = (
    select(Image.id, Image.path, IndexedImage.content_hash)
    .join(IndexedImage, IndexedImage.image_id == Image.id)
    .where(IndexedImage.build_id == bindparam("build_id"),
           IndexedImage.content_hash == bindparam("content_hash"))
    .order_by(IndexedImage.position))
