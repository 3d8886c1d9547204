"""FAISS HNSW mode: recall against exact search, and the same list shape and rules."""
import numpy as np

from indexer.neighbors.approximate import faiss_top_k, hnsw_parameters, recall_at_k
from indexer.neighbors.exact import exact_top_k


def clustered(n, d, seed=0):
    """Unit vectors in 50 clusters, closer to real embeddings than uniform noise."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((50, d))
    x = centres[rng.integers(0, 50, n)] + 0.6 * rng.standard_normal((n, d))
    x = np.maximum(x, 0) + 1e-3
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_faiss_finds_most_true_neighbours_and_follows_the_list_rules():
    vectors = clustered(3000, 64)
    ids, scores = faiss_top_k(vectors, 10)
    exact_ids, _ = exact_top_k(vectors, 10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, exact_ids)])
    assert overlap >= 0.95
    assert ids.shape == (3000, 10)
    assert all(i not in row for i, row in enumerate(ids))
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first


def test_recall_at_k_measures_against_exact():
    vectors = clustered(2000, 32, seed=1)
    exact_ids, _ = exact_top_k(vectors, 5)
    assert recall_at_k(vectors, exact_ids, sample=300) == 1.0
    wrong = np.roll(exact_ids, 1, axis=0)  # other rows' lists: almost all misses
    assert recall_at_k(vectors, wrong, sample=300) < 0.2


def test_duplicates_never_list_the_query_itself():
    base = clustered(20, 16, seed=2)
    vectors = np.concatenate([base] * 5)  # every vector five times: HNSW sees ties
    ids, scores = faiss_top_k(vectors, 4)
    assert all(i not in row for i, row in enumerate(ids))
    assert np.allclose(scores[:, :4], 1.0, atol=1e-6)  # four exact copies each


def test_parameters_grow_with_the_collection():
    small, large = hnsw_parameters(10_000, 10), hnsw_parameters(5_000_000, 10)
    assert large["M"] > small["M"] and large["ef_search"] > small["ef_search"]
