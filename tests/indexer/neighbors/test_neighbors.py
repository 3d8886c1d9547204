"""Exact top-k against brute force: duplicates, ties, tiny collections, chunking, bf16."""
import numpy as np
import pytest
import torch

from indexer.neighbors.exact import exact_top_k
from indexer.neighbors.small import SMALL_N, score, small_top_k, top_k_of_rows


def brute_force(vectors: np.ndarray, k: int):
    """Full N x N scores; best first, ties by smaller index, never the row itself.

    Every pair is scored by the code's one float32 routine (`small.score`), so ties are what
    the code calls ties: equal float32 scores, then the smaller index. A BLAS product would
    round differently on AVX2 and AVX-512 machines and reorder equal scores.
    """
    n = len(vectors)
    everyone = np.arange(n)
    scores = score(np.ascontiguousarray(vectors, np.float32), everyone,
                   np.broadcast_to(everyone, (n, n))).astype(np.float64)
    np.fill_diagonal(scores, -np.inf)
    kk = min(k, n - 1)
    ids = np.stack([np.lexsort((everyone, -row))[:kk] for row in scores])
    return ids.reshape(n, kk), np.take_along_axis(scores, ids.reshape(n, kk), 1)


def unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def random_unit(n, d, seed=0, relu=True):
    rows = np.random.default_rng(seed).standard_normal((n, d))
    return unit(np.maximum(rows, 0) + 1e-3 if relu else rows)


@pytest.mark.parametrize("n,k", [(200, 10), (37, 5), (50, 49), (50, 100)])
def test_matches_brute_force(n, k):
    vectors = random_unit(n, 32, seed=n)
    ids, scores = exact_top_k(vectors, k)
    want_ids, want_scores = brute_force(vectors, k)
    assert ids.shape == (n, min(k, n - 1))
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)


def test_small_memory_budget_forces_many_chunks_and_stays_exact():
    vectors = random_unit(300, 16, seed=3)
    ids, _ = exact_top_k(vectors, 7, memory_mb=0)  # the smallest chunk: 64 rows
    np.testing.assert_array_equal(ids, brute_force(vectors, 7)[0])


@pytest.mark.parametrize("fast_dtype", [torch.float32, torch.bfloat16])
def test_pairs_found_for_later_chunks_are_exact(fast_dtype):
    """24 chunks in 6 dimensions: close scores everywhere, most neighbours in other chunks."""
    vectors = random_unit(1500, 6, seed=7, relu=False)
    ids, scores = exact_top_k(vectors, 10, memory_mb=0, fast_dtype=fast_dtype)
    want_ids, want_scores = brute_force(vectors, 10)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)
    same = (ids == want_ids).all(axis=1)
    # Where ids differ, only float32 rounding may have swapped two equal true scores.
    assert same.mean() > 0.99
    for row in np.flatnonzero(~same):
        true = vectors[row].astype(np.float64) @ vectors[ids[row]].astype(np.float64).T
        np.testing.assert_allclose(true, want_scores[row], atol=1e-6)


def test_copies_spread_over_chunks_come_first():
    base = random_unit(100, 8, seed=8, relu=False)  # no two alike
    vectors = np.concatenate([base] * 5)  # copies 100 rows apart: in other chunks
    ids, scores = exact_top_k(vectors, 6, memory_mb=0)
    for i, row in enumerate(ids):
        copies = [j for j in range(i % 100, 500, 100) if j != i]
        assert list(row[:4]) == copies
        np.testing.assert_allclose(scores[i, :4], 1.0, atol=1e-6)
    np.testing.assert_array_equal(ids, brute_force(vectors, 6)[0])


def test_bf16_fast_pass_is_certified_exact():
    vectors = random_unit(400, 64, seed=4)
    ids, scores = exact_top_k(vectors, 10, fast_dtype=torch.bfloat16)
    want_ids, want_scores = brute_force(vectors, 10)
    np.testing.assert_array_equal(ids, want_ids)
    np.testing.assert_allclose(scores, want_scores, atol=1e-6)


def test_duplicates_and_ties_break_by_index_and_never_include_self():
    base = random_unit(5, 8, seed=5)
    vectors = np.concatenate([base, base, base])  # every vector three times
    ids, scores = exact_top_k(vectors, 4)
    np.testing.assert_array_equal(ids, brute_force(vectors, 4)[0])
    for i, row in enumerate(ids):
        assert i not in row
        twins = sorted({i % 5, i % 5 + 5, i % 5 + 10} - {i})
        assert list(row[:2]) == twins            # exact copies first, smaller index first
        assert scores[i, 0] == pytest.approx(1.0)


@pytest.mark.parametrize("fast_dtype", [torch.float32, torch.bfloat16])
def test_all_equal_vectors_tie_everywhere(fast_dtype):
    """Exact ties defeat every certificate: bf16 falls back to fp32, then to full rows."""
    vectors = unit(np.ones((100, 4)))
    ids, _ = exact_top_k(vectors, 3, fast_dtype=fast_dtype)
    for i, row in enumerate(ids):
        assert list(row) == [j for j in range(100) if j != i][:3]


def test_mutual_pairs_have_identical_scores():
    vectors = random_unit(120, 24, seed=6, relu=False)
    ids, scores = exact_top_k(vectors, 8)
    score = {(i, int(j)): s for i in range(len(ids)) for j, s in zip(ids[i], scores[i])}
    mutual = [(i, j) for (i, j) in score if (j, i) in score]
    assert mutual
    assert all(score[i, j] == score[j, i] for i, j in mutual)


@pytest.mark.parametrize("n", [0, 1])
def test_no_neighbours_when_fewer_than_two(n):
    ids, scores = exact_top_k(random_unit(max(n, 1), 4)[:n], 10)
    assert ids.shape == (n, 0) and scores.shape == (n, 0)


def test_two_images_recommend_each_other():
    ids, scores = exact_top_k(random_unit(2, 4), 10)
    assert ids.tolist() == [[1], [0]]
    assert scores[0, 0] == scores[1, 0]


def test_scores_are_clipped_to_cosine_range():
    vectors = unit(np.ones((3, 7)))  # float32 rounding can push these dot products past 1
    _, scores = exact_top_k(vectors, 2)
    assert scores.max() <= 1.0 and scores.min() >= -1.0


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot"])
def test_blocks_of_rows_give_the_whole_searchs_lists(metric):
    """The Ray job searches blocks of rows in separate tasks: each row's list is the same."""
    vectors = random_unit(3000, 32)
    if metric != "cosine":  # raw features: lengths differ
        vectors *= (1 + np.arange(3000, dtype=np.float32) % 3)[:, None]
    vectors[10:20] = vectors[0]  # ties, broken by index in both
    ids, scores = small_top_k(vectors, 7, metric)
    edges = [0, 1, 640, 1999, 3000]
    parts = [top_k_of_rows(vectors, a, b, 7, metric) for a, b in zip(edges, edges[1:])]
    assert np.array_equal(np.concatenate([p[0] for p in parts]), ids)
    assert np.array_equal(np.concatenate([p[1] for p in parts]), scores)


def test_the_small_search_and_the_sweep_agree_past_the_small_limit():
    """Past SMALL_N one machine sweeps (exact.py) while Ray's tasks search rows: same lists."""
    vectors = random_unit(SMALL_N + 500, 24)
    vectors[100:104] = vectors[7]
    ids, scores = exact_top_k(vectors, 10)
    block_ids, block_scores = top_k_of_rows(vectors, 0, len(vectors), 10)
    assert np.array_equal(block_ids, ids)
    np.testing.assert_array_equal(block_scores, scores)
