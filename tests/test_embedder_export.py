"""The ONNX embedder the job stores agrees with the job's own torch embeddings."""
import os

import numpy as np
import pytest
import sqlalchemy as sa

from webapp.imaging import THUMBNAIL_SIZE, center_crop, open_rgb
from webapp.models import Embedding, StoredEmbedder
from webapp.search import QueryEmbedder

SAMPLE = slice(None, None, 5)


@pytest.fixture
def sample(built):
    return sorted(built.collection.groups)[SAMPLE]


def job_fp32_embeddings(root, paths) -> np.ndarray:
    """Embed files as the job does (same decode and crop), in plain fp32."""
    import torch

    from webapp.pipeline.embed import embed_batch, load_embedder
    embedder = load_embedder("none", "cpu", "fp32")
    crops = [center_crop(open_rgb(root / p, max(embedder.resize, THUMBNAIL_SIZE)).rgb,
                         embedder.resize, embedder.crop) for p in paths]
    return embed_batch(embedder, torch.from_numpy(np.stack(crops)))


def test_web_runtime_agrees_with_the_job(app, built, sample):
    root = built.collection.root
    with app.app_context():
        from webapp.db import db
        from webapp.models import Build
        build = Build.active()
        web = QueryEmbedder.load(build.model_key, threads=1)
        ours = np.stack([web.embed((root / p).read_bytes(), 10**8) for p in sample])
        hashes = [db.session.scalar(sa.text(
            "SELECT i.content_hash FROM indexed_images i JOIN images m ON m.id = i.image_id "
            "WHERE i.build_id = :b AND m.path = :p"), {"b": build.id, "p": p}) for p in sample]
        stored_rows = dict(db.session.execute(
            sa.select(Embedding.content_hash, Embedding.vector)
            .where(Embedding.model_key == build.model_key, Embedding.content_hash.in_(hashes))
        ).all())
        stored = np.stack([np.frombuffer(stored_rows[h], np.float32) for h in hashes])
        precision = build.timings["precision"]
    fp32 = job_fp32_embeddings(root, sample)

    against_fp32 = (ours * fp32).sum(axis=1)
    against_stored = (ours * stored).sum(axis=1)
    print(f"ONNX vs job fp32: min cosine {against_fp32.min():.7f}; "
          f"vs stored job ({precision}): min {against_stored.min():.7f}")
    # Random weights make every image look alike (distinct ones score ~0.98), so 0.999 alone
    # would say little: the same arithmetic must agree to float rounding, and each vector
    # must be closest to its own file's job vector.
    assert against_fp32.min() >= 0.99999
    assert against_stored.min() >= 0.999
    assert (np.argmax(ours @ stored.T, axis=1) == np.arange(len(sample))).all()


def test_export_is_stored_once_per_model_with_its_preprocessing(app):
    with app.app_context():
        from webapp.db import db
        rows = db.session.scalars(sa.select(StoredEmbedder)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.preprocessing["resize"] == 256 and row.preprocessing["crop"] == 224
        assert row.preprocessing["mean"] == [0.485, 0.456, 0.406] and row.dim == 512
        assert len(row.onnx) > 40e6  # ResNet18's 11.7M float32 parameters travel with it
        assert row.calibration["threshold"] == row.near_duplicate_threshold


def test_a_second_database_reuses_the_export_cached_on_this_machine(tmp_path, monkeypatch):
    from webapp import create_app
    from webapp.pipeline.embed import load_embedder
    from webapp.pipeline.export import cache_paths, ensure_exported
    from webapp.pipeline.store import ensure_schema
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))
    embedder = load_embedder("none", "cpu")
    timings = []
    for name in ("first", "second"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}.sqlite3"})
        with app.app_context():
            ensure_schema()
            timings.append(ensure_exported(embedder))
    first, second = (sum(t.values()) for t in timings)
    assert second < first / 4  # read back, not exported and calibrated again
    onnx_path, json_path = cache_paths(embedder.model_key)
    assert os.path.getsize(onnx_path) > 1_000_000 and os.path.exists(json_path)
