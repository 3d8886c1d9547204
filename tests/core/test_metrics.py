"""--metric cosine|euclidean|dot: exact lists of raw features, served best first."""
import io
import sqlite3

import numpy as np
import pytest

from tests.support.commands import run_build
from webapp import create_app
from core.metrics import closeness, from_cosine
from indexer.neighbors import choose_method, find_neighbors
from indexer.neighbors.small import score, small_top_k


def raw_features(n: int, d: int, seed: int) -> np.ndarray:
    """ReLU-like features of varied lengths, as a CNN's pooled features are."""
    rng = np.random.default_rng(seed)
    rows = np.maximum(rng.standard_normal((n, d)), 0) + 1e-3
    return (rows * rng.uniform(0.5, 3.0, (n, 1))).astype(np.float32)


def brute_force(vectors: np.ndarray, k: int, metric: str):
    """Every pair scored by the code's own float32 routine; ties by the smaller index."""
    n = len(vectors)
    everyone = np.arange(n)
    scores = score(vectors, everyone, np.broadcast_to(everyone, (n, n)), metric)
    scores = scores.astype(np.float64)
    np.fill_diagonal(scores, -np.inf)
    ids = np.stack([np.lexsort((everyone, -row))[:k] for row in scores])
    return ids, np.take_along_axis(scores, ids, 1)


@pytest.mark.parametrize("metric", ["euclidean", "dot"])
@pytest.mark.parametrize("n,k", [(300, 7), (40, 39), (9, 20)])
def test_raw_metrics_match_brute_force(metric, n, k):
    vectors = raw_features(n, 24, seed=n)
    ids, scores = small_top_k(vectors, k, metric)
    want_ids, want = brute_force(vectors, min(k, n - 1), metric)
    np.testing.assert_array_equal(ids, want_ids)
    if metric == "euclidean":  # served as distances, closest first
        want = np.sqrt(-want)
        assert (np.diff(scores, axis=1) >= 0).all()
    else:
        assert (np.diff(scores, axis=1) <= 0).all()
    np.testing.assert_allclose(scores, want, rtol=1e-5)


def test_euclidean_and_dot_rank_differently_from_cosine():
    # Two points in the same direction as a query but at other lengths: cosine ties them,
    # euclidean prefers the one of the query's length, dot the longest.
    vectors = np.array([[1, 0], [1.1, 0], [5, 0], [0.9, 0.5]], np.float32)
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert small_top_k(unit, 1)[0][0, 0] == 1   # cosine: ties, the smaller index
    assert small_top_k(vectors, 1, "euclidean")[0][0, 0] == 1
    assert small_top_k(vectors, 1, "dot")[0][0, 0] == 2
    assert choose_method("auto", 10**7, "cpu", "euclidean") == "exact"
    with pytest.raises(ValueError, match="cosine only"):
        choose_method("faiss", 10, "cpu", "dot")
    ids, scores, recall = find_neighbors("exact", vectors, 1, metric="euclidean")
    assert ids[2, 0] == 1 and scores[2, 0] == pytest.approx(3.9) and recall is None


def test_scores_from_cosines_and_lengths():
    rng = np.random.default_rng(0)
    rows, query = raw_features(20, 8, 1), raw_features(1, 8, 2)[0]
    norms, query_norm = np.linalg.norm(rows, axis=1), float(np.linalg.norm(query))
    cosines = (rows / norms[:, None]) @ (query / query_norm)
    np.testing.assert_allclose(from_cosine(cosines, norms, query_norm, "dot"), rows @ query,
                               rtol=1e-5)
    np.testing.assert_allclose(from_cosine(cosines, norms, query_norm, "euclidean"),
                               np.linalg.norm(rows - query, axis=1), rtol=1e-4)
    values = rng.random(5)
    assert (closeness(values, "euclidean") == -values).all()
    assert (closeness(values, "dot") == values).all()


@pytest.fixture(scope="module")
def euclidean_index(collection, tmp_path_factory):
    folder = tmp_path_factory.mktemp("euclidean")
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    result = run_build(collection.root, url, folder / "thumbs", "--k", 5,
                       "--metric", "euclidean")
    assert result.returncode == 0, result.stderr
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(folder / "thumbs")})
    return app.test_client(), url, folder


def test_a_euclidean_index_serves_distances_closest_first(euclidean_index, collection):
    client, _, _ = euclidean_index
    facts = client.get("/api/index").get_json()
    assert facts["metric"] == "euclidean" and "lower is closer" in facts["score"]
    images = client.get("/api/images?per_page=100").get_json()["images"]
    for image in images:
        detail = client.get(f"/api/images/{image['id']}").get_json()
        distances = [s["score"] for s in detail["similar"]]
        assert detail["metric"] == "euclidean" and len(distances) == 5
        assert distances == sorted(distances) and distances[0] > 0
    assert "euclidean distance" in client.get(f"/images/{images[0]['id']}").get_data(
        as_text=True)
    data = (collection.root / images[3]["path"]).read_bytes()
    body = client.post("/api/search", data={"image": (io.BytesIO(data), "q.jpg")}).get_json()
    first, second = body["results"][:2]
    assert body["metric"] == "euclidean" and first["path"] == images[3]["path"]
    # float16 rows: the image's own distance is 0 to ~1e-3 of a neighbour's
    assert first["score"] < 0.01 * second["score"] and first["tier"] == "exact"


def test_vectors_stored_without_their_length_are_embedded_again(euclidean_index, collection):
    _, url, folder = euclidean_index
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        db.execute("UPDATE embeddings SET norm = NULL")
    cosine = run_build(collection.root, url, folder / "thumbs", "--k", 5)
    assert "embedded 0," in cosine.stdout  # cosine needs only the unit vectors
    again = run_build(collection.root, url, folder / "thumbs", "--k", 5, "--metric", "dot")
    assert again.returncode == 0 and f"embedded {len(collection.groups)}," in again.stdout


def cluster_of_each_path(client) -> dict[str, int]:
    found = {}
    for cluster in client.get("/api/clusters").get_json()["clusters"]:
        body = client.get(f"/api/clusters/{cluster['id']}?per_page=500").get_json()
        found.update((image["path"], cluster["id"]) for image in body["images"])
    return found


def test_clusters_are_of_directions_whatever_the_metric(euclidean_index, collection,
                                                         tmp_path):
    """The euclidean build clusters the same unit vectors as a cosine build of the folder."""
    client, _, _ = euclidean_index
    url = f"sqlite:///{tmp_path / 'cosine.sqlite3'}"
    result = run_build(collection.root, url, tmp_path / "thumbs", "--k", 5)
    assert result.returncode == 0, result.stderr
    cosine = cluster_of_each_path(create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client())
    euclidean = cluster_of_each_path(client)
    assert len(euclidean) == len(collection.groups) and euclidean == cosine
