"""The NumPy search for small collections gives exact_top_k's answer, bit for bit."""
import numpy as np
import pytest

from tests.indexer.neighbors.test_neighbors import brute_force, random_unit, unit
from indexer.neighbors import small
from indexer.neighbors.small import small_top_k
from indexer.neighbors.exact import exact_top_k


@pytest.mark.parametrize("n,k", [(300, 10), (37, 5), (50, 49), (50, 100), (1, 10)])
def test_matches_brute_force_and_the_sweep(n, k, monkeypatch):
    monkeypatch.setattr(small, "BLOCK_ROWS", 64)  # several blocks
    vectors = random_unit(n, 32, seed=n)
    ids, scores = small_top_k(vectors, k)
    want_ids, want_scores = brute_force(vectors, k)
    assert ids.shape == scores.shape == (n, min(k, n - 1))
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)
    sweep_ids, sweep_scores = exact_top_k(vectors, k)
    np.testing.assert_array_equal(ids, sweep_ids)
    np.testing.assert_array_equal(scores, sweep_scores)


def test_copies_come_first_in_index_order_and_uncertain_rows_are_searched_in_full():
    # 30 copies of one vector: 29 ties at 1.0 for k = 5 and m = 13 candidates, so the fence
    # equals the k-th score and no row of the copies can be certified from its candidates.
    rng = np.random.default_rng(1)
    others = unit(np.abs(rng.standard_normal((100, 16))))
    vectors = np.concatenate([others[:50], np.repeat(others[50:51], 30, axis=0), others[51:]])
    copies = np.arange(50, 80)
    ids, scores = small_top_k(vectors, 5)
    for row in copies:
        assert list(ids[row]) == [c for c in copies if c != row][:5]
        np.testing.assert_allclose(scores[row], 1.0, atol=1e-6)
    np.testing.assert_array_equal(ids, brute_force(vectors, 5)[0])
