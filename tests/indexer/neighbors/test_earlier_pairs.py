"""The pairs kept for later rows: each row's best m, floors that only rise, the right bucket."""
import numpy as np

from indexer.neighbors.earlier_pairs import BUCKET_FACTOR, EarlierPairs


def test_take_returns_each_rows_best_m_best_first():
    pairs = EarlierPairs(n=8, m=2, step=4)
    pairs.add(np.array([4, 4, 4, 6]), np.array([0, 1, 2, 3]),
              np.array([0.1, 0.9, 0.5, 0.7], dtype=np.float32))
    scores, others = pairs.take(4, 8)
    np.testing.assert_allclose(scores[0], [0.9, 0.5])
    assert others[0].tolist() == [1, 2]
    np.testing.assert_allclose(scores[2], [0.7, -np.inf])  # fewer than m: -inf after them
    assert np.isneginf(scores[1]).all() and np.isneginf(scores[3]).all()


def test_a_bucket_that_grows_is_cut_down_and_raises_floors():
    m, step = 3, 4
    pairs = EarlierPairs(n=8, m=m, step=step)
    rng = np.random.default_rng(0)
    added = BUCKET_FACTOR * m * step + 1  # one past the limit: cut down on the spot
    rows = np.sort(rng.integers(4, 8, added))
    scores = rng.random(added).astype(np.float32)
    pairs.add(rows, np.arange(added), scores)
    assert pairs.sizes[1] <= m * step
    for row in range(4, 8):
        mine = np.sort(scores[rows == row])[::-1]
        if len(mine) >= m:
            assert pairs.floor[row] == mine[m - 1]
    taken, _ = pairs.take(4, 8)
    for row in range(4, 8):
        mine = np.sort(scores[rows == row])[::-1][:m]
        np.testing.assert_allclose(taken[row - 4, :len(mine)], mine)


def test_floors_never_fall():
    pairs = EarlierPairs(n=4, m=1, step=2)
    pairs.raise_floor(np.array([2, 3]), np.array([0.5, 0.2], dtype=np.float32))
    pairs.raise_floor(np.array([2, 3]), np.array([0.1, 0.4], dtype=np.float32))
    np.testing.assert_allclose(pairs.floor[2:], [0.5, 0.4])


def test_pairs_go_to_the_bucket_of_their_row():
    pairs = EarlierPairs(n=6, m=1, step=2)
    pairs.add(np.array([2, 5]), np.array([0, 1]), np.array([0.3, 0.6], dtype=np.float32))
    scores, others = pairs.take(2, 4)
    assert scores[:, 0].tolist() == [np.float32(0.3), -np.inf] and others[0, 0] == 0
    scores, others = pairs.take(4, 6)
    assert scores[:, 0].tolist() == [-np.inf, np.float32(0.6)] and others[1, 0] == 1
