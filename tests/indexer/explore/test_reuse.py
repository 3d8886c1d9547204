"""A re-run carries the served build's clusters and map over while the collection barely
changed, and refits when it changed a lot or new images fit no cluster."""
import numpy as np
import pytest

from indexer.explore import kmeans, reuse
from indexer.explore.exploration import explore
from indexer.explore.reuse import Explored, carry_over

from .test_explore import unit_blobs

OPTIONS = {"clusters": kmeans.AUTO, "map": "umap"}


def hashes_of(n, start=0):
    return [f"h{i}" for i in range(start, start + n)]


def explored(vectors, hashes, options=OPTIONS):
    clustering = kmeans.cluster(vectors, 4)
    # Each cluster in its own corner of the map, spread a little, as a map would draw it.
    corners = np.array([[0.1, 0.1], [0.9, 0.1], [0.1, 0.9], [0.9, 0.9]], dtype=np.float32)
    spread = np.random.default_rng(0).random((len(vectors), 2)).astype(np.float32) * 0.05
    places = corners[clustering.labels % 4] + spread
    return Explored(options, hashes, clustering, places, "umap", None)


@pytest.fixture
def four_groups():
    vectors = unit_blobs(400, 4)
    return vectors, hashes_of(400)


def test_nothing_new_keeps_every_cluster_and_place(four_groups):
    vectors, hashes = four_groups
    earlier = explored(vectors, hashes)
    order = np.random.default_rng(1).permutation(len(hashes))  # gallery order may differ
    clustering, places = carry_over(earlier, OPTIONS, [hashes[i] for i in order], vectors[order])
    assert (clustering.labels == earlier.clustering.labels[order]).all()
    assert (places == earlier.places[order]).all()
    assert clustering.k == earlier.clustering.k


def test_a_few_new_images_join_their_nearest_cluster_and_known_ones_stay(four_groups):
    vectors, hashes = four_groups
    earlier = explored(vectors[:390], hashes[:390])
    clustering, places = carry_over(earlier, OPTIONS, hashes, vectors)
    assert (places[:390] == earlier.places).all()
    assert (clustering.labels[:390] == earlier.clustering.labels).all()
    for row in range(390, 400):  # each new image joins the cluster its blob-mates are in
        twin = int(np.argmax(vectors[:390] @ vectors[row]))
        assert clustering.labels[row] == clustering.labels[twin]
        assert np.linalg.norm(places[row] - places[twin]) < 0.1


def test_options_changed_or_no_earlier_build_refit(four_groups):
    vectors, hashes = four_groups
    earlier = explored(vectors, hashes)
    assert carry_over(None, OPTIONS, hashes, vectors) is None
    assert carry_over(earlier, {"clusters": 3, "map": "umap"}, hashes, vectors) is None


def test_more_than_the_share_new_or_gone_refits(four_groups):
    vectors, hashes = four_groups
    limit = int(reuse.REFIT_SHARE * 380)
    earlier = explored(vectors[:380], hashes[:380])
    assert carry_over(earlier, OPTIONS, hashes[:380 + limit], vectors[:380 + limit]) is not None
    assert carry_over(earlier, OPTIONS, hashes[:381 + limit], vectors[:381 + limit]) is None
    assert carry_over(earlier, OPTIONS, hashes[limit + 1:380], vectors[limit + 1:380]) is None


def test_a_new_family_that_fits_no_cluster_refits():
    vectors = unit_blobs(420, 5)
    labels = kmeans.cluster(vectors, 5).labels
    newcomer = labels == labels[-1]
    known, new = vectors[~newcomer], vectors[newcomer][:reuse.MIN_NOVEL]
    earlier = explored(known, hashes_of(len(known)))
    both = np.concatenate([known, new])
    assert carry_over(earlier, OPTIONS, hashes_of(len(both)), both) is None
    # One stranger alone does not redraw the map: it joins the nearest cluster.
    assert carry_over(earlier, OPTIONS, hashes_of(len(known) + 1), both[:len(known) + 1])


def test_explore_says_it_reused_and_skips_the_fits(four_groups, monkeypatch):
    vectors, hashes = four_groups
    first = explore(vectors, kmeans.AUTO, "none", hashes)
    assert not first.reused and first.options == {"clusters": "auto", "map": "none"}
    earlier = Explored(first.options, hashes, first.clustering, None, None, first.curve_png)
    monkeypatch.setattr(kmeans, "cluster", lambda *a: pytest.fail("refitted"))
    again = explore(vectors, kmeans.AUTO, "none", hashes, earlier)
    assert again.reused and (again.labels == first.labels).all()
    assert again.curve_png == first.curve_png and again.places is None


def test_a_cluster_emptied_by_removals_drops_the_curve_that_chose_k(four_groups):
    vectors, hashes = four_groups
    labels = kmeans.cluster(vectors, 4).labels.copy()
    labels[:3] = 4  # a fifth cluster of three images, all of which go
    curve = kmeans.Curve([2, 3, 4, 5], [4.0, 3.0, 2.0, 1.9], [None] * 4, 5, 5)
    earlier = Explored(OPTIONS, hashes, kmeans.Clustering(5, kmeans.AUTO, labels, curve),
                       None, None, b"png")
    clustering, _ = carry_over(earlier, OPTIONS, hashes[3:], vectors[3:])
    assert clustering.k == 4 and clustering.curve is None
    kept = carry_over(earlier, OPTIONS, hashes[1:], vectors[1:])[0]  # one of the three stays
    assert kept.k == 5 and kept.curve is curve
