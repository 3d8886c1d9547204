"""The approximate search index: built by the job past a size (or forced), stored with the
build, written once per machine, memory-mapped by the workers, and searched like the exact way."""
import concurrent.futures
import io
import os
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
import pytest
import requests
from sqlalchemy import select

from tests.support.commands import K, run_build, serve
from tests.support.databases import new_postgres_database
from webapp import create_app
from webapp.search.mapped_index import index_path, local_copy, mapped_index
from webapp.serving.active_index import served_index
from core.db import db
from core.records import Build, SearchIndex
from indexer import search_index
from webapp.search.exact import query_embedder, search, search_matrix
from webapp.search.ranked import ranked_matrix, ranked_search
from benchmarks.ann_benchmark import clustered_vectors


@dataclass
class Indexed:
    url: str
    thumbnails: Path
    root: Path
    summary: str


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def indexed(request, collection, tmp_path_factory):
    """The test collection built with --search-index always, once per database backend."""
    folder = tmp_path_factory.mktemp(f"search-index-{request.param}")

    def build(url):
        result = run_build(collection.root, url, folder / "thumbnails", "--k", K,
                           "--search-index", "always", "--clusters", "0")
        assert result.returncode == 0, result.stderr
        return Indexed(url, folder / "thumbnails", collection.root,
                       result.stdout.strip().splitlines()[-1])
    if request.param == "sqlite":
        yield build(f"sqlite:///{folder / 'index.sqlite3'}")
    else:
        with new_postgres_database(request.getfixturevalue("postgres_server")) as url:
            yield build(url)


def web(indexed, cache_dir):
    return create_app({"SQLALCHEMY_DATABASE_URI": indexed.url, "TESTING": True,
                       "THUMBNAIL_DIR": str(indexed.thumbnails),
                       "SEARCH_INDEX_DIR": str(cache_dir)})


def upload(client, data: bytes):
    return client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg")},
                       content_type="multipart/form-data")


def sample_paths(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.jpg")
                  if p.name != "broken.jpg")[::7]


def test_the_job_builds_ivf_pq_only_past_the_size_or_when_asked():
    assert not search_index.wanted("auto", 100_000, 512, "cosine")  # 100 MB of float16
    assert search_index.wanted("auto", 300_000, 512, "cosine")      # 300 MB
    assert search_index.wanted("auto", 30_000, 4096, "cosine")      # VGG16's fc1: 245 MB
    assert search_index.wanted("always", 48, 512, "cosine")
    assert not search_index.wanted("never", 3_000_000, 512, "cosine")
    # Raw-feature metrics stay exact at any size: the index ranks unit vectors.
    assert not search_index.wanted("always", 3_000_000, 512, "euclidean")
    assert search_index.factory_string(2_000_000, 512) == (
        "IVF2048,PQ64x8", {"nlist": 2048, "m": 64, "nbits": 8})


def test_a_built_index_reaches_its_recall_and_opens_memory_mapped(tmp_path):
    vectors = np.ascontiguousarray(clustered_vectors(str(tmp_path / "v.npy"), 20_000))
    built = search_index.build(vectors)
    assert built.kind.startswith("IVF") and ",PQ64x8" in built.kind
    assert built.recall_at_10 >= search_index.RECALL_TARGET
    assert built.sample_size == search_index.RECALL_SAMPLE
    path = tmp_path / "index.faiss"
    path.write_bytes(built.data)
    index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
    assert any(str(path) in line for line in open("/proc/self/maps"))  # mapped, not read
    faiss.extract_index_ivf(index).nprobe = built.parameters["nprobe"]
    found = search_index.rescored_top_k(index, vectors, vectors[:50], 10)
    assert (found[:, 0] == np.arange(50)).all()  # each vector finds itself first


def test_a_forced_index_serves_uploads_like_exact_search(indexed, tmp_path):
    # Every vector is a candidate at this size: only ties at the 10th place can differ.
    assert "search index IVF1,PQ" in indexed.summary
    app = web(indexed, tmp_path / "cache")
    client = app.test_client()
    with app.app_context():
        build = Build.active()
        facts = db.session.get(SearchIndex, build.id)
        assert facts.recall_at_10 >= 0.95 and facts.sample_size == build.image_count
        assert facts.parameters["metric"] == "cosine" and facts.parameters["nprobe"] >= 1
        # It holds what the lists rank by: the whitened and augmented vectors.
        assert facts.parameters["space"] == build.ranking == "whiten+dba"
    images = {i["path"]: i["id"] for i in
              client.get("/api/images?per_page=100").get_json()["images"]}
    for path in sample_paths(indexed.root):
        data = (indexed.root / path).read_bytes()
        response = upload(client, data)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        results = body["results"]
        assert body["ranking"] == "whiten+dba"
        assert len(results) == K and results[0]["id"] == images[path]
        assert results[0]["cosine"] >= 0.99 and results[0]["tier"] == "exact"
        scores = [r["score"] for r in results]
        assert scores == sorted(scores, reverse=True)
        with app.test_request_context():
            served = served_index()
            assert mapped_index(served) is not None
            embedder = query_embedder(served)
            pixels = embedder.model_input(data, 10**8).pixels
            exact = ranked_search(embedder, search_matrix(served), ranked_matrix(served),
                                  pixels, K + 5)
        # The same images as the exact search in the learned space, each with its score and
        # raw cosine (float16 and PQ round them: 2e-3), in its order up to near ties (int8
        # embeddings make more of those). The uploaded file itself is listed first with the
        # perfect score, whichever way was searched.
        exact_score = {m.image_id: m for m in exact}
        for result in results[1:]:
            assert abs(exact_score[result["id"]].score - result["score"]) <= 2e-3
            assert abs(exact_score[result["id"]].cosine - result["cosine"]) <= 2e-3
        assert min(exact_score[r["id"]].score for r in results) >= exact[K - 1].score - 2e-3


def test_the_index_file_is_written_once_per_machine_and_reused(indexed, tmp_path):
    cache = tmp_path / "cache"
    data = (indexed.root / sample_paths(indexed.root)[0]).read_bytes()
    first = web(indexed, cache)
    assert upload(first.test_client(), data).status_code == 200
    (written,) = cache.iterdir()
    before = written.stat()
    second = web(indexed, cache)  # another worker of the same machine
    assert upload(second.test_client(), data).status_code == 200
    after = written.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    with second.app_context():
        assert index_path(str(cache), Build.active().id) == str(written)
    assert any(str(written) in line for line in open("/proc/self/maps"))


@pytest.mark.parametrize("indexed", ["sqlite"], indirect=True)
def test_concurrent_gunicorn_workers_write_one_complete_file(indexed, tmp_path):
    cache = tmp_path / "cache"
    paths = sample_paths(indexed.root)[:4]
    # Searches at once in each worker too (SEARCHES_PER_WORKER), each thread first to open it.
    with serve(indexed.url, indexed.thumbnails, workers=2, SEARCH_INDEX_DIR=str(cache),
               SEARCHES_PER_WORKER="4") as url:
        def post(path):
            files = {"image": ("q.jpg", (indexed.root / path).read_bytes())}
            return requests.post(url + "/api/search", files=files, timeout=60)
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(post, paths * 2))
    assert [r.status_code for r in responses] == [200] * len(responses)
    assert [p.name for p in cache.iterdir()] == [f"build-{built_id(indexed)}.faiss"]


def built_id(indexed) -> int:
    app = web(indexed, "/nonexistent")
    with app.app_context():
        return Build.active().id


def test_a_damaged_local_file_is_written_again(indexed, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    path = Path(index_path(str(cache), built_id(indexed)))
    path.write_bytes(b"not a FAISS index")
    data = (indexed.root / sample_paths(indexed.root)[1]).read_bytes()
    assert upload(web(indexed, cache).test_client(), data).status_code == 200
    with web(indexed, cache).app_context():
        assert path.stat().st_size == db.session.get(SearchIndex,
                                                     Build.active().id).parameters["bytes"]
    assert not [p for p in cache.iterdir() if p.name.startswith(".partial-")]


def test_a_corrupt_stored_index_answers_503_and_never_loads_the_matrix(indexed, tmp_path):
    app = web(indexed, tmp_path / "cache")
    with app.app_context():
        facts = db.session.get(SearchIndex, Build.active().id)
        good = facts.data
        facts.data = b"\0" * len(good)
        db.session.commit()
    try:
        data = (indexed.root / sample_paths(indexed.root)[0]).read_bytes()
        response = upload(app.test_client(), data)
        assert response.status_code == 503
        assert "search index" in response.get_json()["error"]
        assert "corrupt" in response.get_json()["error"]
        with app.test_request_context():
            assert "search_matrix" not in served_index()._made
    finally:
        with app.app_context():
            db.session.get(SearchIndex, Build.active().id).data = good
            db.session.commit()
    assert not os.path.exists(index_path(str(tmp_path / "cache"), built_id(indexed)))


def test_a_build_below_the_size_has_no_index_and_searches_exactly(built, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "TESTING": True,
                      "THUMBNAIL_DIR": str(built.thumbnails),
                      "SEARCH_INDEX_DIR": str(tmp_path / "cache")})
    with app.app_context():
        assert db.session.get(SearchIndex, Build.active().id) is None
    assert "search index" not in built.result.stdout
    path = sorted(built.collection.groups)[0]
    response = upload(app.test_client(), (built.collection.root / path).read_bytes())
    assert response.status_code == 200 and response.get_json()["results"][0]["path"] == path
    with app.test_request_context():
        served = served_index()
        assert mapped_index(served) is None and "search_matrix" in served._made
    assert not (tmp_path / "cache").exists()


def test_a_worker_on_the_previous_build_keeps_the_new_builds_file(collection, tmp_path):
    """Just after a publish: the new build's workers wrote its file; a worker still on the
    previous build writes that one's. Both stay; a build no longer served goes."""
    url = f"sqlite:///{tmp_path / 'index.sqlite3'}"
    for _ in range(2):
        result = run_build(collection.root / "group-00", url, tmp_path / "thumbs", "--k", 3,
                           "--search-index", "always", "--clusters", "0")
        assert result.returncode == 0, result.stderr
    cache = tmp_path / "cache"
    cache.mkdir()
    stale = cache / "build-999.faiss"
    stale.write_bytes(b"a build retired long ago")
    with web(Indexed(url, tmp_path / "thumbs", collection.root, ""), cache).app_context():
        new, previous = (db.session.get(SearchIndex, b.id) for b in db.session.scalars(
            select(Build).where(Build.status.in_(["active", "superseded"]))
            .order_by(Build.id.desc())))
        written = [local_copy(str(cache), facts) for facts in (new, previous)]
    assert all(os.path.exists(path) for path in written) and not stale.exists()
