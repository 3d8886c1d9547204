"""Re-runs: incremental builds equal from-scratch ones; interrupted runs lose nothing."""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import psycopg2
import pytest
from PIL import Image

from tests.support.commands import ROOT, run_build
from tests.support.index_lists import active_lists, query
from samples.drawn import make_collection
from webapp import create_app


def make_source(folder, seed=5, groups=6):
    make_collection(str(folder), groups=groups, per_group=6, seed=seed)
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.jpg"))


def edit(folder, paths, tmp_path):
    """Remove 5 files, change 2, add 4 new ones."""
    for rel in paths[:5]:
        os.unlink(folder / rel)
    for rel in paths[5:7]:
        with Image.open(folder / rel) as img:
            img.rotate(90, expand=True).save(folder / rel, quality=60)
    extra = tmp_path / "extra"
    make_collection(str(extra), groups=1, per_group=4, seed=99)
    shutil.copytree(extra / "group-00", folder / "added")


@pytest.mark.parametrize("engine", ["torch", "mnn"])
def test_incremental_rerun_equals_a_build_from_scratch(database_url, tmp_path, engine):
    source = tmp_path / "source"
    paths = make_source(source)
    build = ("--k", 4, "--engine", engine, "--device", "cpu", "--precision", "fp32")
    assert run_build(source, database_url, tmp_path / "thumbs", *build).returncode == 0
    edit(source, paths, tmp_path)
    second = run_build(source, database_url, tmp_path / "thumbs", *build)
    assert second.returncode == 0, second.stderr
    assert "(new 4, changed 2, removed 5; embedded 6, reused 29," in second.stdout

    scratch = f"sqlite:///{tmp_path / 'scratch.sqlite3'}"
    assert run_build(source, scratch, tmp_path / "thumbs2", *build).returncode == 0
    incremental, from_scratch = active_lists(database_url), active_lists(scratch)
    assert len(incremental) == 35
    if engine == "torch":  # its CPU kernels give an image the same bits in any batch
        assert incremental == from_scratch  # same lists, same order, same scores to the bit
        return
    # MNN tiles a batch across images, so an image's last bits depend on its batch: the
    # same lists in the same order, scores equal to float32 rounding (as the whitening
    # learned from the vectors scales up their weak directions, a few times that).
    assert {image: [other for other, _ in similar] for image, similar in incremental.items()} \
        == {image: [other for other, _ in similar] for image, similar in from_scratch.items()}
    for image, similar in incremental.items():
        np.testing.assert_allclose([score for _, score in similar],
                                   [score for _, score in from_scratch[image]], atol=1e-5)


def test_a_new_k_or_new_weights_recompute_what_they_need(tmp_path):
    import torch
    from torchvision.models import resnet18
    source = tmp_path / "source"
    make_source(source, groups=3)
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run_build(source, url, tmp_path / "t", "--k", 4).returncode == 0
    new_k = run_build(source, url, tmp_path / "t", "--k", 2)
    assert "embedded 0, reused 18" in new_k.stdout
    assert {len(s) for s in active_lists(url).values()} == {2}
    torch.manual_seed(3)
    torch.save(resnet18().state_dict(), tmp_path / "other.pth")
    other = run_build(source, url, tmp_path / "t", weights=tmp_path / "other.pth")
    assert "embedded 18, reused 0" in other.stdout
    keys = query(url, "SELECT model_key, count(*) FROM embeddings GROUP BY model_key")
    assert sorted(n for _, n in keys) == [18, 18]


def start_build(source, url, thumbs, *extra):
    cmd = [sys.executable, str(ROOT / "scripts" / "build_index.py"), str(source),
           "--database-url", url, "--thumbnail-dir", str(thumbs), "--weights", "none",
           "--no-progress", "--workers", "0", "--batch-size", "4", *map(str, extra)]
    return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


@contextlib.contextmanager
def table_locked(url, table):
    """Hold an EXCLUSIVE lock on `table`: others may read it, not write it, until released."""
    connection = psycopg2.connect(url)
    try:
        # Fails clearly rather than hang if the job ever holds this table itself.
        connection.cursor().execute("SET lock_timeout = '60s'")
        connection.cursor().execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")
        yield
    finally:
        connection.rollback()
        connection.close()


def wait_until_blocked_on(url, table, process, timeout=120):
    """Wait until some session waits for a lock on `table` (the job, at a known statement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        waiting = query(url, "SELECT count(*) FROM pg_locks WHERE NOT granted "
                             f"AND relation = '{table}'::regclass")[0][0]
        if waiting:
            return
        time.sleep(0.05)
    raise AssertionError(f"the job never waited for {table}: {process.communicate()}")


def interrupted_build(url, tmp_path, sig):
    """Publish 12 images; index 48 others, and send `sig` while the job waits to publish them.

    Deterministic on any machine: the job is held by table locks at two known statements.
    First embeddings is locked, so the job stops at storing its first batch, after it has
    recorded its build; then builds is locked and embeddings released, so the job embeds
    every image and stops at its publish. The signal arrives there.
    """
    small, big = tmp_path / "small", tmp_path / "big"
    make_source(small, groups=2)
    make_source(big, seed=8, groups=8)
    assert run_build(small, url, tmp_path / "t").returncode == 0
    with contextlib.ExitStack() as builds_lock:
        with table_locked(url, "embeddings"):
            process = start_build(big, url, tmp_path / "t")
            wait_until_blocked_on(url, "embeddings", process)
            builds_lock.enter_context(table_locked(url, "builds"))
        wait_until_blocked_on(url, "builds", process)
        process.send_signal(sig)
    return big, process


def test_killed_run_keeps_the_old_index_and_the_next_run_resumes(empty_postgres_url, tmp_path):
    url = empty_postgres_url
    big, process = interrupted_build(url, tmp_path, signal.SIGKILL)
    process.wait()
    client = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    assert client.get("/healthz").get_json()["images"] == 12  # the old index still serves
    assert query(url, "SELECT count(*) FROM embeddings")[0][0] == 12 + 48  # all kept

    resumed = run_build(big, url, tmp_path / "t")
    assert resumed.returncode == 0, resumed.stderr
    assert "embedded 0, reused 48" in resumed.stdout
    assert client.get("/healthz").get_json()["images"] == 48
    statuses = sorted(s for s, in query(url, "SELECT status FROM builds"))
    assert statuses == ["active", "failed", "superseded"]


def test_ctrl_c_stops_with_a_message_and_keeps_the_old_index(empty_postgres_url, tmp_path):
    url = empty_postgres_url
    _, process = interrupted_build(url, tmp_path, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "previous index keeps serving" in stderr.strip().splitlines()[-1]
    assert query(url, "SELECT image_count FROM builds WHERE status = 'active'") == [(12,)]
    assert ("failed",) in query(url, "SELECT status FROM builds")


def test_ctrl_c_while_retiring_leaves_the_new_index_serving(empty_postgres_url, tmp_path):
    """The third run retires the first; it is held (and interrupted) at a table that only
    retiring writes, after its publish (no clusters: the runs store no cluster curve)."""
    url, source = empty_postgres_url, tmp_path / "source"
    make_source(source, groups=2)
    for k in (2, 3):
        assert run_build(source, url, tmp_path / "t", "--k", k, "--clusters", 0).returncode == 0
    with table_locked(url, "cluster_curves"):
        process = start_build(source, url, tmp_path / "t", "--clusters", 0)
        wait_until_blocked_on(url, "cluster_curves", process)
        process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "the next run retires them" in stderr and "indexed 12 images" in stdout
    assert query(url, "SELECT k FROM builds WHERE status = 'active'") == [(10,)]
    assert {len(similar) for similar in active_lists(url).values()} == {10}


def explored_rows(url):
    """Return the active build's id, timings and {path: (cluster, x, y)}."""
    rows = query(url, """
        SELECT builds.id, images.path, cluster, map_x, map_y FROM indexed_images
        JOIN builds ON builds.id = indexed_images.build_id AND builds.status = 'active'
        JOIN images ON images.id = indexed_images.image_id""")
    timings = query(url, "SELECT timings FROM builds WHERE status = 'active'")[0][0]
    return rows[0][0], timings, {path: (c, x, y) for _, path, c, x, y in rows}


def test_a_rerun_carries_clusters_and_map_over_and_places_new_images(database_url, tmp_path):
    source = tmp_path / "source"
    make_source(source)
    build = ("--k", 4, "--clusters", "auto")
    first = run_build(source, database_url, tmp_path / "thumbs", *build, map_method="umap")
    assert first.returncode == 0, first.stderr
    first_id, timings, before = explored_rows(database_url)
    assert "map_seconds" in timings and "explore_reused_seconds" not in timings

    again = run_build(source, database_url, tmp_path / "thumbs", *build, map_method="umap")
    assert again.returncode == 0, again.stderr
    second_id, timings, after = explored_rows(database_url)
    assert second_id != first_id and "explore_reused_seconds" in timings
    assert after == before  # every cluster and place, to the bit
    assert query(database_url, "SELECT count(*) FROM cluster_curves WHERE build_id = :b",
                 b=second_id)[0][0] == 1

    # One new copy of a picture joins that picture's cluster, beside it; nothing else moves
    # (clusters keep their members; their numbers follow their sizes, 0 the largest).
    with Image.open(source / "group-00" / "picture-00.jpg") as picture:
        picture.save(source / "copy.png")  # other bytes, the same pixels
    third = run_build(source, database_url, tmp_path / "thumbs", *build, map_method="umap")
    assert third.returncode == 0, third.stderr
    _, timings, placed = explored_rows(database_url)
    assert "explore_reused_seconds" in timings
    assert {p: (x, y) for p, (_, x, y) in placed.items() if p != "copy.png"} \
        == {p: (x, y) for p, (_, x, y) in before.items()}
    renumbered = {(before[p][0], placed[p][0]) for p in before}
    assert len(renumbered) == len({old for old, _ in renumbered}) \
        == len({new for _, new in renumbered})  # one to one: the same groups
    cluster, x, y = placed["copy.png"]
    original = placed["group-00/picture-00.jpg"]
    assert cluster == original[0] and abs(x - original[1]) + abs(y - original[2]) < 0.1

    # Another map method: a full refit.
    fourth = run_build(source, database_url, tmp_path / "thumbs", *build, map_method="tsne")
    assert fourth.returncode == 0, fourth.stderr
    assert "explore_reused_seconds" not in explored_rows(database_url)[1]
