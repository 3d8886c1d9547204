"""The near-duplicate threshold calibrated on edited copies of pictures."""
import numpy as np

from indexer.embedders.calibration import EDITS, calibrate_vectors, choose_threshold


def test_threshold_sits_in_the_gap_or_above_every_distinct_pair():
    assert choose_threshold(np.array([0.97, 0.97, 0.97]), np.array([0.5, 0.9])) == 0.935
    overlapping = choose_threshold(np.array([0.9, 0.95, 0.99]), np.array([0.5, 0.96]))
    assert 0.96 < overlapping < 0.961


def test_calibration_reports_recall_per_edit():
    """Two pictures: copies close to their original, the pictures far apart."""
    rng = np.random.default_rng(0)
    bases = np.linalg.qr(rng.standard_normal((8, 2)))[0].T  # two orthonormal vectors
    vectors, owners, edits = [], [], []
    for number, base in enumerate(bases):
        for edit in ["original", *EDITS]:
            noisy = base + (0 if edit == "original" else 0.05) * rng.standard_normal(8)
            vectors.append(noisy / np.linalg.norm(noisy))
            owners.append(number)
            edits.append(edit)
    report = calibrate_vectors(np.array(vectors), np.array(owners), edits)
    assert report["distinct"]["max"] < report["threshold"] < 1
    assert set(report["edits"]) == set(EDITS)
    assert all(e["recall"] == 1.0 for e in report["edits"].values())
