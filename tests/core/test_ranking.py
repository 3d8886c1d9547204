"""core/ranking.py: the learned ranking space's arithmetic, shared by the job and the web."""
import numpy as np
import pytest

from core.metrics import MEANING
from core.ranking import (Whitening, alpha_weights, augmented, expanded_query, score_meaning)


def unit(rows):
    rows = np.asarray(rows, np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_whitening_applies_centre_projection_and_normalisation_and_survives_bytes():
    whitening = Whitening(np.array([0.5, 0.0, 0.0], np.float32),
                          np.array([[2.0, 0.0], [0.0, 1.0], [0.0, 0.0]], np.float32))
    out = whitening.apply(unit([[1.0, 1.0, 0.0]]))
    expected = unit([[2 * (2 ** -0.5 - 0.5), 2 ** -0.5]])
    np.testing.assert_allclose(out, expected, rtol=1e-6)
    again = Whitening.from_bytes(whitening.to_bytes())
    assert again.dim == 2
    np.testing.assert_array_equal(again.projection, whitening.projection)
    np.testing.assert_array_equal(again.mean, whitening.mean)


def test_alpha_weights_raise_similarities_to_alpha_and_drop_negative_ones():
    np.testing.assert_allclose(alpha_weights(np.array([0.5, -0.2, 1.0]), 3.0),
                               [0.125, 0.0, 1.0])


def test_augmented_rows_are_unit_sums_of_themselves_and_weighted_neighbours():
    vectors = unit([[1, 0], [0, 1], [1, 1]])
    neighbours = np.array([[2], [2], [0]])
    weights = np.array([[0.5], [0.0], [1.0]], np.float32)
    out = augmented(vectors, neighbours, weights)
    np.testing.assert_allclose(out[0], unit([vectors[0] + 0.5 * vectors[2]])[0], rtol=1e-6)
    np.testing.assert_allclose(out[1], vectors[1], rtol=1e-6)  # weight 0: itself alone
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, rtol=1e-6)


def test_query_expansion_adds_the_best_rows_only():
    matrix = unit([[1, 0], [0, 1], [1, 1]]).astype(np.float16)
    query = unit([[1, 0.2]])[0]
    scores = matrix.astype(np.float32) @ query
    assert expanded_query(query, matrix, scores, 0, 1.0) is query
    best = int(np.argmax(scores))
    one = expanded_query(query, matrix, scores, 1, 1.0)
    expected = unit([query + scores[best] * matrix[best].astype(np.float32)])[0]
    np.testing.assert_allclose(one, expected, rtol=1e-3)


@pytest.mark.parametrize("steps,words", [("whiten+dba", "whitening and augmentation"),
                                         ("whiten", "whitening learned"),
                                         ("dba", "augmentation learned")])
def test_score_meaning_names_the_steps_and_the_raw_cosine(steps, words):
    text = score_meaning("cosine", steps)
    assert words in text and "raw cosine" in text
    assert score_meaning("euclidean") == MEANING["euclidean"]
