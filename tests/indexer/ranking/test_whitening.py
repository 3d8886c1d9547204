"""indexer/ranking: the whitening and augmentation learned from a collection's vectors."""
import numpy as np

from indexer.neighbors.small import small_top_k
from indexer.ranking.settings import RankingSettings
from indexer.ranking.space import ranking_space, raw_cosines, settings_for, with_cosines
from indexer.ranking.whitening import learn_whitening


def collection(n, d, seed=0):
    rng = np.random.default_rng(seed)
    # Anisotropic: a few strong directions, as CNN features have.
    rows = rng.standard_normal((n, d)) * np.linspace(5, 0.1, d)
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def search(vectors, k):
    return small_top_k(vectors, k)


def test_full_whitening_makes_the_collection_s_covariance_the_identity():
    for n, d in ((400, 16), (12, 40)):  # more images than dimensions, and fewer
        units = collection(n, d)
        whitening = learn_whitening(units, dims=64, power=1.0)
        assert whitening.dim == min(d, n - 1)
        projected = (units - whitening.mean) @ whitening.projection
        np.testing.assert_allclose(projected.T @ projected, np.eye(whitening.dim), atol=1e-3)


def test_partial_power_keeps_the_strong_directions_stronger():
    units = collection(300, 16)

    def spread(power):
        return ((units - units.mean(0)) @ learn_whitening(units, 8, power).projection).std(0)
    raw = spread(0.0)  # power 0: the principal directions unscaled
    assert raw[0] > 1.5 * raw[-1]
    # singular value ** -0.25 leaves three quarters of each ratio (in logarithm).
    np.testing.assert_allclose(spread(0.25)[0] / spread(0.25)[-1], (raw[0] / raw[-1]) ** 0.75,
                               rtol=1e-3)


def test_too_few_images_to_whiten_rank_by_what_is_left():
    units = collection(2, 8)
    assert learn_whitening(units, 8, 0.5) is None  # one direction varies: nothing to learn
    space = ranking_space(units, RankingSettings(), search)
    assert space.steps == "dba" and space.whitening is None


def test_the_space_applies_each_step_asked_for_and_the_lists_are_symmetric():
    units = collection(60, 24)
    off = ranking_space(units, RankingSettings(whiten=False, dba=False), search)
    assert off.steps == "raw" and off.vectors is units
    space = ranking_space(units, RankingSettings(dims=8, neighbours=3), search)
    assert space.steps == "whiten+dba" and space.vectors.shape == (60, 8)
    assert space.neighbours.shape == space.weights.shape == (60, 3)
    assert (space.neighbours != np.arange(60)[:, None]).all()  # itself counts apart, once
    ids, scores = small_top_k(space.vectors, 5)
    pairs = {(i, int(j)): s for i, (row, values) in enumerate(zip(ids, scores))
             for j, s in zip(row, values)}
    mutual = [(pair, score) for pair, score in pairs.items() if pair[::-1] in pairs]
    assert mutual
    for (i, j), score in mutual:
        assert abs(score - pairs[(j, i)]) < 1e-6


def test_steps_act_on_cosine_builds_only():
    assert settings_for("cosine", RankingSettings()).steps == "whiten+dba"
    assert settings_for("euclidean", RankingSettings()).steps == "raw"


def test_raw_cosines_are_the_stored_vectors_cosines():
    units = collection(30, 6)
    ids = np.array([[(i + 1) % 30, (i + 7) % 30] for i in range(30)])
    np.testing.assert_allclose(raw_cosines(units, ids),
                               np.einsum("nd,nkd->nk", units, units[ids]), rtol=1e-6)
    (row,) = with_cosines([(3, "copy", 0, 5, 0.9)], units)
    assert row[:5] == (3, "copy", 0, 5, 0.9) and abs(row[5] - units[3] @ units[5]) < 1e-6
