"""The model's exports (ONNX for the web, MNN for the job) agree with torch's fp32."""
import os

import numpy as np
import pytest
import sqlalchemy as sa

from core.records import Embedding, StoredEmbedder
from webapp.search.exact import QueryEmbedder

SAMPLE = slice(None, None, 5)


@pytest.fixture
def sample(built):
    return sorted(built.collection.groups)[SAMPLE]


def job_fp32_embeddings(root, paths) -> np.ndarray:
    """Embed files as the job does (same decode and crop), in plain fp32."""
    import torch

    from indexer.embedders.torch_engine import embed_batch, load_embedder
    embedder = load_embedder("none", "cpu", "fp32")
    crops = [embedder.preprocessing.model_input(root / p).pixels for p in paths]
    return embed_batch(embedder, torch.from_numpy(np.stack(crops)))


def test_web_runtime_agrees_with_the_job(app, built, sample):
    root = built.collection.root
    with app.app_context():
        from core.db import db
        from core.records import Build
        build = Build.active()
        web = QueryEmbedder.load(build.model_key, threads=1)
        ours = np.stack([web.embed(web.model_input((root / p).read_bytes(), 10**8).pixels)[0]
                         for p in sample])
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
    # must be closest to its own file's job vector. Where this machine chose int8, the web
    # runs the job's int8 graph: the same numbers as the job's, int8's distance from fp32.
    if precision == "int8":
        assert against_stored.min() >= 0.99999 and against_fp32.min() >= 0.99
    else:
        assert against_fp32.min() >= 0.99999 and against_stored.min() >= 0.999
    assert (np.argmax(ours @ stored.T, axis=1) == np.arange(len(sample))).all()


def test_export_is_stored_once_per_model_with_its_preprocessing(app):
    with app.app_context():
        from core.db import db
        rows = db.session.scalars(sa.select(StoredEmbedder)).all()
        assert len(rows) == 1
        row = rows[0]
        assert row.preprocessing["resize"] == 256 and row.preprocessing["crop"] == 224
        assert row.preprocessing["mean"] == [0.485, 0.456, 0.406] and row.dim == 512
        # ResNet18's 11.7M parameters travel with it: float32, or int8 where this machine
        # chose int8 (its model_key says so).
        assert len(row.onnx) > (10e6 if row.model_key.endswith("cpu-int8") else 40e6)
        assert row.calibration["threshold"] == row.near_duplicate_threshold


def test_a_second_run_reuses_the_export_cached_on_this_machine(tmp_path, monkeypatch):
    from indexer.embedders.choice import choose
    from indexer.embedders.engine import load_engine
    from indexer.embedders.model_files import cache_paths
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))
    choice = choose("none", "cpu", "fp32")
    _, made, first = load_engine(choice)
    embedder, cached, second = load_engine(choice)
    assert set(first) == {"export_seconds", "calibrate_seconds"}
    assert second == {}  # read back, not exported and calibrated again
    assert cached.onnx == made.onnx and cached.mnn == made.mnn
    assert cached.calibration == made.calibration and cached.preprocessing["crop"] == 224
    paths = cache_paths(choice.model_key)
    assert os.path.getsize(paths["onnx"]) > 1e6 and os.path.getsize(paths["mnn"]) > 1e6
    assert embedder.embed(np.zeros((2, 224, 224, 3), np.uint8)).shape == (2, 512)


def test_the_torch_engine_needs_no_mnn_graph(tmp_path, monkeypatch):
    from indexer.embedders.choice import choose
    from indexer.embedders.engine import load_engine
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))
    embedder, files, _ = load_engine(choose("none", "cpu", "fp32", "torch"))
    assert files.mnn is None and not embedder.embeds_in_workers
    # A later MNN run adds the graph to the machine's cache.
    assert load_engine(choose("none", "cpu", "fp32", "mnn"))[1].has_mnn()


def test_each_database_stores_the_model_once(tmp_path):
    from webapp import create_app
    from indexer.embedders.choice import choose
    from indexer.embedders.engine import load_engine
    from indexer.embedders.model_files import ensure_stored
    from core.db import db, ensure_schema
    choice = choose("none", "cpu", "fp32")
    files = load_engine(choice)[1]
    for name in ("first", "second"):
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / name}.sqlite3"})
        with app.app_context():
            ensure_schema(db.engine)
            assert set(ensure_stored(db.session, choice.model_key, choice.label, files)) == {
                "store_model_seconds"}
            assert ensure_stored(db.session, choice.model_key, choice.label, files) == {}
            stored = db.session.get(StoredEmbedder, choice.model_key)
            assert stored.onnx == files.onnx and stored.dim == 512


def test_mnn_engine_agrees_with_torch_fp32(built, sample):
    from indexer.embedders.choice import choose
    from indexer.embedders.engine import load_engine
    root = built.collection.root
    mnn = load_engine(choose("none", "cpu", "fp32", "mnn"))[0]
    crops = np.stack([mnn.preprocessing.model_input(root / p).pixels for p in sample])
    ours = mnn.embed(crops)
    fp32 = job_fp32_embeddings(root, sample)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-6)
    # Winograd convolutions round differently from torch's: rounding-level agreement.
    assert (ours * fp32).sum(axis=1).min() >= 0.99999
    assert (np.argmax(ours @ fp32.T, axis=1) == np.arange(len(sample))).all()
