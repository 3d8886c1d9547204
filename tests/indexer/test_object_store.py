"""Sources and thumbnails on an object store: builds from s3:// on a real S3-compatible server.

moto's server mode listens on a loopback port for the module; the build subprocesses find it
through AWS_ENDPOINT_URL and the other AWS variables, as a deployment would.
"""
import hashlib
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from tests.support import live_server
from tests.support.commands import K, ROOT, run_build
from tests.support.s3_server import keys, running_s3, upload_folder
from tests.support.index_lists import active_lists, query
from webapp import create_app
from core.hashing import file_digest
from core.imaging import Preprocessing, thumbnail_name
from indexer.read import decode_one, worker_context
from indexer.scan import hash_files, scan, scan_prefix, scan_source

BUCKET = "photos"
SOURCE = f"s3://{BUCKET}/shop"
THUMBS = "https://thumbs.example.com"
PREPROCESSING = Preprocessing(256, 224, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


@pytest.fixture(scope="module")
def s3(collection):
    """The collection (broken files too) under shop/ of a bucket on a live S3 server."""
    with running_s3() as client:
        client.create_bucket(Bucket=BUCKET)
        upload_folder(client, collection.root, BUCKET, "shop")
        # Hidden names are passed over as in a folder; another prefix is not part of shop/.
        for key in ("shop/.hidden.jpg", "shop/.cache/x.jpg", "shop-old/a.jpg"):
            client.put_object(Bucket=BUCKET, Key=key, Body=b"not listed")
        yield client


def hashes_by_path(url: str) -> dict[str, str]:
    return dict(query(url, """SELECT images.path, i.content_hash FROM indexed_images i
                              JOIN builds ON builds.id = i.build_id AND builds.status = 'active'
                              JOIN images ON images.id = i.image_id"""))


def summary(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def folder_build(collection, tmp_path_factory):
    """The collection built from its folder, the reference for the S3 builds."""
    folder = tmp_path_factory.mktemp("folder-build")
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    summary(run_build(collection.root, url, folder / "thumbnails", "--k", K))
    return url, folder / "thumbnails"


@pytest.fixture(scope="module")
def s3_build(s3, tmp_path_factory):
    """The same collection built from the bucket, its thumbnails written to the bucket."""
    url = f"sqlite:///{tmp_path_factory.mktemp('s3-build') / 'index.sqlite3'}"
    result = run_build(SOURCE, url, f"s3://{BUCKET}/thumbs", "--k", K)
    return url, result


def test_a_prefix_lists_and_hashes_as_its_folder_does(collection, s3):
    remote, _ = scan_source(SOURCE)
    local, _ = scan(str(collection.root))
    assert [f.path for f in remote] == [f.path for f in local]
    assert remote[0].full_path == f"{SOURCE}/{remote[0].path}"
    assert [f.file_size for f in remote] == [os.path.getsize(f.full_path) for f in local]
    assert [f.content_hash for f in hash_files(remote)[0]] == \
        [f.content_hash for f in hash_files(local)[0]]


def test_a_forked_worker_decodes_objects_after_its_parent_read_them(s3):
    files, _ = scan_source(SOURCE)  # the parent's filesystem instance and loop are in use
    hashed, _ = hash_files(files[-2:])  # two pictures (broken.jpg and empty.png sort first)
    items = [(i, f.full_path, f.content_hash) for i, f in enumerate(hashed)]
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        futures = [pool.submit(decode_one, item, PREPROCESSING, f"s3://{BUCKET}/fork-thumbs")
                   for item in items]
        decoded = [future.result(timeout=60) for future in futures]
    assert [d.error for d in decoded] == ["", ""] and decoded[0].width > 0
    assert len(keys(s3, BUCKET, "fork-thumbs/")) == 2


def test_an_s3_prefix_gives_the_folder_build_lists(collection, folder_build, s3_build):
    url, result = s3_build
    line = summary(result)
    assert line.startswith(f"indexed {len(collection.groups)} images, "
                           f"skipped {len(collection.broken)},")
    for name in collection.broken:  # skipped with the object's URL in the reason
        assert f"skipped {name}: UnidentifiedImageError: cannot identify image file " \
               f"'{SOURCE}/{name}'" in result.stderr
    assert query(url, "SELECT root FROM builds WHERE status = 'active'")[0][0] == SOURCE
    lists, reference = active_lists(url), active_lists(folder_build[0])
    assert sorted(lists) == sorted(collection.groups)
    assert lists == reference
    assert hashes_by_path(url) == hashes_by_path(folder_build[0])


def test_thumbnails_go_to_the_bucket_one_jpeg_per_content_hash(s3, s3_build):
    url, result = s3_build
    summary(result)
    expected = {f"thumbs/{thumbnail_name(h)}" for h in hashes_by_path(url).values()}
    assert sorted(keys(s3, BUCKET, "thumbs/")) == sorted(expected)
    body = s3.get_object(Bucket=BUCKET, Key=min(expected))["Body"].read()
    assert body[:2] == b"\xff\xd8"


def test_the_site_links_thumbnails_to_their_base_and_shows_them_for_originals(s3_build):
    url, _ = s3_build
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_BASE_URL": THUMBS})
    client = app.test_client()
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    assert image["thumbnail_url"].startswith(THUMBS + "/")
    # An s3:// root: no file on this disk to send, so pages show the thumbnail instead of a
    # broken image until IMAGE_BASE_URL says where the originals are.
    assert client.get(f"/images/{image['id']}/file").status_code == 404
    assert image["url"] == image["thumbnail_url"]
    page = client.get(f"/images/{image['id']}").get_data(as_text=True)
    assert f'class="original" src="{image["thumbnail_url"]}"' in page
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_BASE_URL": THUMBS,
                      "IMAGE_BASE_URL": "https://photos.example.com/shop"})
    image = app.test_client().get("/api/images?per_page=1").get_json()["images"][0]
    assert image["url"] == f"https://photos.example.com/shop/{image['path']}"


def test_a_rerun_from_s3_and_a_folder_build_reuse_the_same_embeddings(
        collection, s3, s3_build, folder_build):
    url, _ = s3_build
    again = summary(run_build(SOURCE, url, f"s3://{BUCKET}/thumbs", "--k", K))
    assert f"embedded 0, reused {len(collection.groups)}" in again
    # The folder-built database: same content hashes, so the bucket's images embed nothing.
    folder_url, thumbnails = folder_build
    crossed = summary(run_build(SOURCE, folder_url, thumbnails, "--k", K))
    assert f"embedded 0, reused {len(collection.groups)}" in crossed


def test_postgresql_builds_from_s3_and_rebuilds_after_a_thumbnail_is_lost(
        collection, s3, empty_postgres_url):
    thumbs = f"s3://{BUCKET}/pg-thumbs"
    first = summary(run_build(SOURCE, empty_postgres_url, thumbs, "--k", K))
    assert f"embedded {len(collection.groups)}," in first
    lost = keys(s3, BUCKET, "pg-thumbs/")[0]
    s3.delete_object(Bucket=BUCKET, Key=lost)
    again = summary(run_build(SOURCE, empty_postgres_url, thumbs, "--k", K))
    assert "embedded 1, reused" in again  # the one listing of the prefix missed exactly it
    assert lost in keys(s3, BUCKET, "pg-thumbs/")


@pytest.mark.parametrize("source, reason", [
    (f"s3://{BUCKET}/nothing-here", f"error: no objects under s3://{BUCKET}/nothing-here"),
    ("s3://no-such-bucket/shop", "error: cannot list s3://no-such-bucket/shop: "
                                 "FileNotFoundError"),
])
def test_an_empty_prefix_or_a_missing_bucket_exits_1_with_one_line(s3, tmp_path, source, reason):
    result = run_build(source, f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path / "thumbs")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(reason), result.stderr


def test_an_unreachable_endpoint_exits_1_with_one_line(collection, tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{live_server.free_port()}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    started = time.monotonic()
    result = run_build(SOURCE, f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path / "thumbs")
    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: cannot list {SOURCE}: EndpointConnectionError"), line
    assert time.monotonic() - started < 120


def test_the_autoencoder_does_not_train_on_a_prefix(s3, tmp_path):
    result = run_build(SOURCE, f"sqlite:///{tmp_path / 'x.sqlite3'}", tmp_path / "thumbs",
                       "--model", "autoencoder", weights="imagenet")
    assert result.returncode == 1
    assert "--model autoencoder trains on a local folder" in result.stderr.splitlines()[-1]


def test_the_web_serves_an_s3_build_without_object_store_libraries(s3_build):
    code = ("import sys, app\n"
            "client = app.app.test_client()\n"
            "codes = [client.get(u).status_code for u in ('/', '/api/images/1', "
            "'/images/1/file')]\n"
            "print(codes, sorted(m for m in ('s3fs', 'fsspec', 'botocore', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, env={**os.environ, "DATABASE_URL": s3_build[0]})
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[200, 200, 404] []"


def test_objects_over_the_size_limit_are_skipped_by_their_listed_size(collection, s3):
    picture = (collection.root / "group-00" / "picture-00.jpg").read_bytes()
    s3.put_object(Bucket=BUCKET, Key="sized/small.jpg", Body=picture)
    s3.put_object(Bucket=BUCKET, Key="sized/huge.jpg", Body=b"\0" * (2 * 2**20))
    files, skips = scan_prefix(f"s3://{BUCKET}/sized", max_bytes=2**20)
    assert [f.path for f in files] == ["small.jpg"]
    assert [s.path for s in skips] == ["huge.jpg"] and "over 1 MB are not read" in skips[0].reason


HASH_PEAK = """
import resource, sys
from core import locations
from core.hashing import file_digest
locations.filesystem(sys.argv[1])  # s3fs and its client loaded before the baseline
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
size, digest, _ = file_digest(sys.argv[1])
print(size, digest, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)
"""


def test_hashing_an_object_streams_it(s3):
    """In a process of its own (the S3 server is this one's): its peak grows by blocks."""
    data = os.urandom(64 * 2**20)
    s3.put_object(Bucket=BUCKET, Key="stream/big.jpg", Body=data)
    result = subprocess.run([sys.executable, "-c", HASH_PEAK, f"s3://{BUCKET}/stream/big.jpg"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    size, digest, added_kb = result.stdout.split()
    assert (int(size), digest) == (len(data), hashlib.blake2b(data, digest_size=16).hexdigest())
    assert int(added_kb) < 40 * 1024  # never the whole object (64 MB)
