"""The explore stage alone: k chosen on synthetic blobs, bounded samples, tiny collections, maps."""
import numpy as np
import pytest
from sklearn.datasets import make_blobs

from indexer.explore import kmeans, layout, sampling
from indexer.explore.components import DIMENSIONS, principal_components
from indexer.explore.curve_plot import curve_png
from indexer.explore.exploration import explore


def unit_blobs(n: int, centers: int, dim: int = 64, seed: int = 0) -> np.ndarray:
    """n unit vectors in `centers` well-separated groups, like L2-normalised embeddings."""
    vectors, _ = make_blobs(n_samples=n, n_features=dim, centers=centers, cluster_std=0.5,
                            center_box=(-10, 10), random_state=seed)
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


@pytest.mark.parametrize("centers", [3, 5, 8])
def test_auto_finds_the_number_of_blobs(centers):
    found = kmeans.cluster(unit_blobs(400, centers), kmeans.AUTO)
    assert (found.k, found.method) == (centers, kmeans.AUTO)
    sizes = np.bincount(found.labels)
    assert len(sizes) == centers and sizes.min() > 0 and sizes.sum() == 400
    assert found.curve.chosen == centers and found.curve.ks[0] == 2


def test_labels_number_clusters_from_the_largest():
    vectors = np.concatenate([unit_blobs(300, 1, seed=1), unit_blobs(60, 1, seed=2)])
    found = kmeans.cluster(vectors, 2)
    sizes = np.bincount(found.labels)
    assert (found.k, found.method, list(sizes)) == (2, kmeans.FIXED, [300, 60])


def test_the_elbow_is_where_the_curve_bends():
    assert kmeans.elbow_index([2, 3, 4, 5, 6, 7], [100, 60, 20, 18, 17, 16]) == 2
    assert kmeans.elbow_index([2, 3], [5, 4]) == 0
    assert kmeans.elbow_index([2, 3, 4], [1, 1, 1]) == 0


def test_candidates_stay_few_and_below_n():
    assert kmeans.candidate_ks(1) == kmeans.candidate_ks(2) == []
    assert kmeans.candidate_ks(48) == list(range(2, 14))
    large = kmeans.candidate_ks(1_000_000)
    assert large[:19] == list(range(2, 21)) and max(large) == kmeans.MAX_K
    assert len(large) <= 19 + kmeans.SPARSE_CANDIDATES and large == sorted(set(large))
    assert all(k < 10 for k in kmeans.candidate_ks(10))


def test_samples_are_bounded_and_distinct():
    rows = sampling.bounded_sample(100_000, 5000, seed=3)
    assert len(rows) == 5000 == len(np.unique(rows)) and rows.max() < 100_000
    assert list(sampling.bounded_sample(7, 5000, seed=3)) == list(range(7))


def test_silhouette_and_curve_fits_see_bounded_samples(monkeypatch):
    monkeypatch.setattr(kmeans, "CURVE_SAMPLE", 300)
    monkeypatch.setattr(kmeans, "SILHOUETTE_SAMPLE", 120)
    seen = {"fit": set(), "silhouette": set()}
    fit, silhouette = kmeans.fit, kmeans.silhouette
    monkeypatch.setattr(kmeans, "fit",
                        lambda s, k, seed: seen["fit"].add(len(s)) or fit(s, k, seed))
    monkeypatch.setattr(kmeans, "silhouette",
                        lambda s, labels: seen["silhouette"].add(len(s)) or silhouette(s, labels))
    found = kmeans.cluster(unit_blobs(1000, 4), kmeans.AUTO)
    assert seen == {"fit": {300}, "silhouette": {120}}
    assert len(found.labels) == 1000 and found.k == 4  # every vector assigned all the same


@pytest.mark.parametrize("n", [1, 2])
def test_tiny_collections(n):
    vectors = unit_blobs(n, 1)
    assert kmeans.cluster(vectors, kmeans.AUTO) is None
    assert kmeans.cluster(vectors, 0) is None
    places = layout.project(vectors, "umap")
    assert places.shape == (n, 2) and np.isfinite(places).all()
    assert places.min() >= 0 and places.max() <= 1


def test_two_images_with_a_fixed_k_get_a_cluster_each():
    found = kmeans.cluster(unit_blobs(2, 2), 5)
    assert found.k == 2 and sorted(found.labels) == [0, 1]


def test_clusters_zero_and_map_none_make_nothing():
    result = explore(unit_blobs(50, 3), 0, "none")
    assert result.clustering is None and result.labels is None and result.places is None
    assert result.curve_png is None and result.map_method is None


def test_parse_option():
    assert kmeans.parse_option("auto") == "auto"
    assert kmeans.parse_option("0") == 0 and kmeans.parse_option("12") == 12
    with pytest.raises(ValueError):
        kmeans.parse_option("-1")
    with pytest.raises(ValueError):
        kmeans.parse_option("many")


def test_the_curve_is_a_png():
    found = kmeans.cluster(unit_blobs(200, 3), kmeans.AUTO)
    png = curve_png(found.curve)
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


@pytest.mark.parametrize("method", ["umap", "tsne"])
def test_maps_keep_blobs_apart_in_the_unit_square(method):
    vectors = unit_blobs(300, 3)
    labels = kmeans.cluster(vectors, 3).labels
    places = layout.project(vectors, method)
    assert places.shape == (300, 2) and places.dtype == np.float32
    assert places.min() >= 0 and places.max() <= 1 and np.isfinite(places).all()
    assert places.max(axis=0).max() == pytest.approx(1, abs=1e-6)
    centres = np.array([places[labels == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(places[labels == c] - centres[c], axis=1).mean() for c in range(3))
    gaps = [np.linalg.norm(centres[a] - centres[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread


def test_big_collections_fit_on_a_sample_and_place_the_rest(monkeypatch):
    monkeypatch.setattr(layout, "FIT_SAMPLE", 150)
    monkeypatch.setattr(layout, "TRANSFORM_CHUNK", 100)
    monkeypatch.setattr(layout, "TSNE_SAMPLE", 150)
    vectors = unit_blobs(400, 2)
    for method in ("umap", "tsne"):
        places = layout.project(vectors, method)
        assert places.shape == (400, 2) and np.isfinite(places).all()
        assert places.min() >= 0 and places.max() <= 1


def test_place_near_averages_the_nearest_known_places():
    known = np.eye(4, dtype=np.float32)
    places = np.array([[0, 0], [1, 0], [0, 1], [1, 1]], dtype=np.float32)
    placed = layout.place_near(known[[1]], known, places)
    assert placed[0] == pytest.approx([1, 0], abs=1e-3)  # the others score 0: no weight


def test_clusters_are_found_on_fewer_dimensions_where_vectors_have_many():
    vectors = unit_blobs(600, 5, dim=1280)
    reduced = principal_components(vectors, seed=0)
    assert reduced.shape == (600, DIMENSIONS) and reduced.dtype == np.float32
    few = vectors[:200]  # no more vectors than components: kept as they are
    assert principal_components(few, seed=0) is few
    truth = kmeans.cluster(vectors, 5).labels
    found = kmeans.cluster(reduced, 5).labels
    assert len({(a, b) for a, b in zip(truth, found)}) == 5  # the same five groups
