"""Name how close a match is: an exact copy, a near-duplicate, or merely similar.

"exact": the same file content (same content hash). "near-duplicate": a score at or above the
threshold calibrated for the build's model and weights when the job exported them (see
indexer/embedders/calibration.py and scripts/calibrate_tiers.py). "similar": anything else.
"""
from __future__ import annotations

EXACT, NEAR_DUPLICATE, SIMILAR = "exact", "near-duplicate", "similar"


def tier(score: float, same_content: bool, threshold: float | None) -> str:
    """Return the tier of a match; without a calibrated threshold, only exact is told apart."""
    if same_content:
        return EXACT
    if threshold is not None and score >= threshold:
        return NEAR_DUPLICATE
    return SIMILAR
