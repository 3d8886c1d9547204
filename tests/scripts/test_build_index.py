"""The offline job end to end through its CLI, on SQLite and on PostgreSQL."""
import re

import numpy as np
import pytest
from PIL import Image

from tests.support.commands import K, run_build
from tests.support.index_lists import active_lists, query

SUMMARY = re.compile(r"^indexed (\d+) images, skipped (\d+), [\d.]+ s, [\d.]+ images/s .*$")


def test_summary_is_the_last_line_and_bad_files_are_counted(built):
    last = built.result.stdout.strip().splitlines()[-1]
    match = SUMMARY.match(last)
    assert match, last
    assert int(match[1]) == len(built.collection.groups)
    assert int(match[2]) == len(built.collection.broken)
    for name in built.collection.broken:
        assert f"skipped {name}:" in built.result.stderr
    assert "random weights" in last


def test_every_image_has_k_recommendations_best_first_never_itself(built):
    lists = active_lists(built.url)
    assert set(lists) == set(built.collection.groups)
    for path, similar in lists.items():
        assert len(similar) == K
        assert path not in [p for p, _ in similar]
        scores = [s for _, s in similar]
        assert scores == sorted(scores, reverse=True)
        assert all(-1.0 <= s <= 1.0 for s in scores)


def test_mutual_pairs_agree_on_their_score(built):
    lists = active_lists(built.url)
    score = {(a, b): s for a, similar in lists.items() for b, s in similar}
    mutual = [(a, b) for a, b in score if (b, a) in score]
    assert len(mutual) > len(lists)
    assert all(score[a, b] == pytest.approx(score[b, a], abs=1e-6) for a, b in mutual)


def test_random_weights_still_find_transformed_copies(built):
    """Group mates are transformed copies of one picture; chance would be about 5/47."""
    groups = built.collection.groups
    lists = active_lists(built.url)
    hits = sum(groups[p] == groups[s] for p, similar in lists.items() for s, _ in similar)
    assert hits / (K * len(lists)) >= 0.6


def test_build_record_and_thumbnails(built):
    (model, weights, k, count, skipped, status), = query(
        built.url, "SELECT model, weights, k, image_count, skipped_count, status FROM builds")
    assert (model, weights, k, status) == ("resnet18", "none", K, "active")
    assert (count, skipped) == (len(built.collection.groups), len(built.collection.broken))
    rows = query(built.url, "SELECT content_hash, width, height FROM indexed_images")
    hashes = [h for h, _, _ in rows]
    for content_hash, width, height in rows:
        with Image.open(built.thumbnails / content_hash[:2] / f"{content_hash}.jpg") as thumb:
            assert max(thumb.size) == min(320, max(width, height))  # never upscaled
    vectors = query(built.url, "SELECT vector FROM embeddings")
    assert len(vectors) == len(set(hashes))
    norms = [np.linalg.norm(np.frombuffer(v, dtype=np.float32)) for v, in vectors]
    assert np.allclose(norms, 1.0, atol=1e-5) and len(vectors[0][0]) == 512 * 4


def test_rerun_reuses_embeddings_and_keeps_image_ids(collection, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    first = run_build(collection.root, url, tmp_path / "thumbs", "--k", 3)
    ids = dict(query(url, "SELECT path, id FROM images"))
    second = run_build(collection.root, url, tmp_path / "thumbs", "--k", 3)
    assert first.returncode == second.returncode == 0
    assert "embedded 0, reused" in second.stdout
    assert dict(query(url, "SELECT path, id FROM images")) == ids
    statuses = sorted(s for s, in query(url, "SELECT status FROM builds"))
    assert statuses == ["active", "superseded"]
    assert query(url, "SELECT count(*) FROM embedders") == [(1,)]  # exported once


@pytest.mark.parametrize("count,expected", [(1, 0), (2, 1)])
def test_tiny_collections(tmp_path, count, expected):
    for i in range(count):
        Image.new("RGB", (50, 40), (i * 90, 30, 60)).save(tmp_path / f"{i}.png")
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run_build(tmp_path, url, tmp_path / "thumbs")
    assert result.returncode == 0, result.stderr
    assert len(query(url, "SELECT * FROM recommendations")) == count * expected


def test_local_weights_file(collection, tmp_path):
    import torch
    from torchvision.models import resnet18
    torch.manual_seed(7)
    torch.save(resnet18().state_dict(), tmp_path / "mine.pth")
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run_build(collection.root, url, tmp_path / "thumbs", weights=tmp_path / "mine.pth")
    assert result.returncode == 0, result.stderr
    assert "random weights" not in result.stdout
    (weights, key), = query(url, "SELECT weights, model_key FROM builds")
    assert weights == "mine.pth" and key.startswith("resnet18:file-sha256-")


def test_missing_weights_stop_the_job_and_name_the_alternatives(collection, tmp_path):
    result = run_build(collection.root, f"sqlite:///{tmp_path / 'db.sqlite3'}",
                       tmp_path / "thumbs", weights=tmp_path / "nowhere.pth")
    assert result.returncode == 3
    reason = result.stderr.strip().splitlines()[-1]
    assert "--weights PATH" in reason and "--weights none" in reason


def test_fatal_errors_exit_non_zero_with_one_line(collection, tmp_path):
    missing = run_build(tmp_path / "nope", f"sqlite:///{tmp_path / 'a.sqlite3'}", tmp_path)
    assert missing.returncode == 1
    # One line in all: no library's INFO lines (Alembic's plugins and migrations) before it.
    assert missing.stdout == "" and len(missing.stderr.strip().splitlines()) == 1
    assert missing.stderr.startswith("error: no such folder")
    down = run_build(collection.root, "postgres://postgres@127.0.0.1:1/none", tmp_path)
    assert down.returncode == 1
    assert "database unreachable" in down.stderr.strip().splitlines()[-1]


def test_a_folder_without_images_keeps_the_previous_index(collection, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run_build(collection.root, url, tmp_path / "thumbs").returncode == 0
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "broken.jpg").write_text("no")
    result = run_build(empty, url, tmp_path / "thumbs")
    assert result.returncode == 1
    assert "previous index keeps serving" in result.stderr
    (count,), = query(url, "SELECT image_count FROM builds WHERE status = 'active'")
    assert count == len(collection.groups)


def test_faiss_mode_reports_recall_and_keeps_the_list_rules(collection, tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run_build(collection.root, url, tmp_path / "thumbs", "--k", K,
                       "--neighbors", "faiss")
    assert result.returncode == 0, result.stderr
    recall = float(re.search(r"recall@k ([\d.]+)", result.stdout)[1])
    assert 0.95 <= recall <= 1.0
    lists = active_lists(url)
    assert len(lists) == len(collection.groups)
    assert all(len(s) == K and p not in [q for q, _ in s] for p, s in lists.items())


def test_the_job_runs_from_a_plain_session_without_a_flask_app(collection, tmp_path):
    """A database session and paths are all the job's library takes (a worker elsewhere)."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from webapp import create_app
    from core.db import db
    from indexer.runner import BuildOptions, run_build as run_job
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    engine = create_engine(url)
    db.Model.metadata.create_all(engine)
    options = BuildOptions(str(collection.root / "group-00"), str(tmp_path / "thumbs"), k=3,
                           weights="none", workers=0, progress=False)
    with Session(engine) as session:
        summary = run_job(session, options)
    engine.dispose()
    assert (summary.indexed, summary.skipped) == (6, [])
    client = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    assert client.get("/api/index").get_json()["images"] == 6
    written = list((tmp_path / "thumbs").rglob("*.jpg"))  # the map's default: umap
    assert sorted(p.parent.name == "atlases" for p in written) == [False] * 6 + [True]
