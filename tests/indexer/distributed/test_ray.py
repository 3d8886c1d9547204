"""--ray local: the job's stages on a real local Ray cluster give one machine's lists."""
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from tests.support.commands import ROOT, run_build
from samples.drawn import make_collection
from tests.support.s3_server import keys, running_s3, upload_folder
from tests.support.index_lists import active_lists, query

# Lite0 with random weights: exported once per machine and cached, like every test's model.
BUILD = ("--k", 5, "--model", "efficientnet_lite0")


def built_lists(folder, tmp_path, name, *extra):
    """Build `folder` into a new SQLite database; return its lists by path and the run."""
    url = f"sqlite:///{tmp_path / name}.sqlite3"
    done = run_build(folder, url, tmp_path / f"{name}-thumbs", *BUILD, *extra)
    assert done.returncode == 0, done.stderr
    return active_lists(url), done


def assert_same_lists(got, expected):
    """The same neighbours in the same order, scores equal to float32 rounding."""
    assert got.keys() == expected.keys()
    for image, similar in got.items():
        assert [path for path, _ in similar] == [path for path, _ in expected[image]], image
        np.testing.assert_allclose([score for _, score in similar],
                                   [score for _, score in expected[image]], atol=1e-6)


@pytest.fixture(scope="module")
def one_machine(collection, tmp_path_factory):
    return built_lists(collection.root, tmp_path_factory.mktemp("one-machine"), "one")[0]


def test_a_local_cluster_gives_one_machines_lists(collection, one_machine, database_url,
                                                  tmp_path):
    done = run_build(collection.root, database_url, tmp_path / "thumbs", *BUILD,
                     "--ray", "local")
    assert done.returncode == 0, done.stderr
    assert_same_lists(active_lists(database_url), one_machine)
    (timings,) = query(database_url, "SELECT timings FROM builds WHERE status = 'active'")[0]
    ray = (timings if isinstance(timings, dict) else json.loads(timings))["ray"]
    assert ray["address"] == "local" and ray["actors"] == ray["cpus"] >= 1  # a copy per CPU
    summary = done.stdout.strip().splitlines()[-1]
    assert summary.startswith("indexed 48 images, skipped 2,")
    assert f"; on Ray local: {ray['cpus']} CPUs, 0 GPUs" in summary
    assert len(list((tmp_path / "thumbs").rglob("*.jpg"))) == 48


def test_a_local_cluster_builds_from_an_s3_prefix_with_thumbnails_there(
        collection, one_machine, tmp_path):
    """Ray's tasks and model copies read the objects and write the thumbnails themselves."""
    with running_s3() as client:
        client.create_bucket(Bucket="photos")
        upload_folder(client, collection.root, "photos", "shop")
        url = f"sqlite:///{tmp_path / 'db'}.sqlite3"
        done = run_build("s3://photos/shop", url, "s3://photos/thumbs", *BUILD, "--ray", "local")
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().splitlines()[-1].startswith("indexed 48 images, skipped 2,")
        assert_same_lists(active_lists(url), one_machine)
        hashes = {h for (h,) in query(url, "SELECT content_hash FROM indexed_images")}
        assert {key.rsplit("/", 1)[1] for key in keys(client, "photos", "thumbs/")} == {
            f"{h}.jpg" for h in hashes}


def test_a_killed_worker_changes_nothing(tmp_path):
    """Kill a model copy while it embeds a batch: Ray restarts it and the lists are the same."""
    folder = tmp_path / "photos"
    make_collection(str(folder), groups=25, per_group=8, seed=3)
    expected, _ = built_lists(folder, tmp_path, "one")
    killed = []
    url = f"sqlite:///{tmp_path / 'ray'}.sqlite3"
    cmd = [sys.executable, str(ROOT / "scripts" / "build_index.py"), str(folder),
           "--database-url", url, "--thumbnail-dir", str(tmp_path / "ray-thumbs"),
           "--weights", "none", "--no-progress", "--map", "none", "--ray", "local",
           *map(str, BUILD)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT)
    watcher = threading.Thread(target=kill_a_model_copy_at_work, args=(process, killed))
    watcher.start()
    out, err = process.communicate(timeout=600)
    watcher.join()
    assert killed, "no model copy was seen at work"
    assert process.returncode == 0, err
    assert out.strip().splitlines()[-1].startswith("indexed 200 images, skipped 0,")
    assert_same_lists(active_lists(url), expected)


def kill_a_model_copy_at_work(process, killed, timeout=300, every=False):
    """SIGKILL the first Ray worker seen embedding a batch (its process title says so), or
    with `every`, each one seen until the run ends."""
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        titles = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True,
                                text=True).stdout
        for line in titles.splitlines():
            pid, _, args = line.strip().partition(" ")
            if args.startswith("ray::ModelCopy.decode_and_embed"):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
                    killed.append(int(pid))
                if not every:
                    return
        time.sleep(0.05)


def test_copies_that_keep_dying_fail_the_run_instead_of_looping(collection, tmp_path):
    """A batch that kills every copy it meets (a decoder crash) fails the run, with a line."""
    url = f"sqlite:///{tmp_path / 'db'}.sqlite3"
    assert run_build(collection.root, url, tmp_path / "thumbs", *BUILD).returncode == 0
    before = active_lists(url)
    cmd = [sys.executable, str(ROOT / "scripts" / "build_index.py"), str(collection.root),
           "--database-url", url, "--thumbnail-dir", str(tmp_path / "ray-thumbs"),
           "--weights", "none", "--no-progress", "--map", "none", "--ray", "local",
           *map(str, BUILD)]
    process = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               cwd=ROOT)
    killed = []
    watcher = threading.Thread(target=kill_a_model_copy_at_work,
                               args=(process, killed, 300, True))
    watcher.start()
    _, err = process.communicate(timeout=600)
    watcher.join()
    assert process.returncode == 1
    assert len(killed) > 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: ") and "actor" in last.lower(), last
    assert active_lists(url) == before


@pytest.mark.parametrize("address,expected", [
    ("127.0.0.1:6379", ("127.0.0.1", 6379)), ("ray://head:10001", ("head", 10001)),
    ("ray://head:10001/", ("head", 10001)), ("[::1]:6379", ("::1", 6379)),
    ("ray://[fe80::1]:10001", ("fe80::1", 10001)), ("::1", None), ("auto", None),
    ("head", None)])
def test_cluster_addresses_are_read_as_ray_reads_them(address, expected):
    from indexer.distributed.ray_stages import host_and_port
    assert host_and_port(address) == expected


def test_an_unreachable_cluster_fails_at_once_and_keeps_the_previous_index(
        collection, one_machine, tmp_path):
    url = f"sqlite:///{tmp_path / 'db'}.sqlite3"
    assert run_build(collection.root, url, tmp_path / "thumbs", *BUILD).returncode == 0
    started = time.monotonic()
    done = run_build(collection.root, url, tmp_path / "thumbs", *BUILD, "--ray", "127.0.0.1:9")
    assert done.returncode == 1
    assert time.monotonic() - started < 60
    assert done.stderr.strip().splitlines()[-1].startswith(
        "error: ConnectionError: no Ray cluster answers at 127.0.0.1:9")
    assert_same_lists(active_lists(url), one_machine)
    statuses = [status for (status,) in query(url, "SELECT status FROM builds ORDER BY id")]
    assert statuses == ["active", "failed"]


def test_without_ray_the_job_never_imports_it(collection, tmp_path):
    url = f"sqlite:///{tmp_path / 'db'}.sqlite3"
    # build_index.py as run by a user, with a last word on what it imported.
    probe = ("import sys, atexit, runpy; atexit.register(lambda: print('ray imported:', "
             "'ray' in sys.modules)); sys.argv = sys.argv[1:]; "
             "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run(
        [sys.executable, "-c", probe, str(ROOT / "scripts" / "build_index.py"),
         str(collection.root), "--database-url", url, "--thumbnail-dir", str(tmp_path / "t"),
         "--weights", "none", "--no-progress", "--map", "none", *map(str, BUILD)],
        capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "ray imported: False"


def test_decode_tasks_feed_a_torch_model_copy(collection, tmp_path):
    """Where the model runs in torch (GPUs), CPU tasks decode and a model copy embeds."""
    torch = ("--engine", "torch", "--precision", "fp32")
    expected, _ = built_lists(collection.root, tmp_path, "one", *torch)
    got, done = built_lists(collection.root, tmp_path, "ray", *torch, "--ray", "local")
    assert_same_lists(got, expected)
    assert done.stdout.strip().splitlines()[-1].startswith("indexed 48 images, skipped 2,")
