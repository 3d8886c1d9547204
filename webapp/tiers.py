"""Name how close a match is: an exact copy, a near-duplicate, or merely similar.

"exact": the same file content (same content hash). "near-duplicate": a score at or above the
threshold calibrated for the build's model and weights when the job exported them (see
webapp/pipeline/models/calibration.py and scripts/calibrate_tiers.py). "similar": anything else.
"""
from __future__ import annotations

from .files import image_links

EXACT, NEAR_DUPLICATE, SIMILAR = "exact", "near-duplicate", "similar"


def tier(score: float, same_content: bool, threshold: float | None) -> str:
    """Return the tier of a match; without a calibrated threshold, only exact is told apart."""
    if same_content:
        return EXACT
    if threshold is not None and score >= threshold:
        return NEAR_DUPLICATE
    return SIMILAR


def entries(threshold: float | None, own_hash: str, rows, scores=None) -> list[dict]:
    """Return the JSON/template entries of matches, each with its score and tier.

    `rows` have id, path and content_hash, and score unless `scores` gives them in order.
    """
    scores = scores if scores is not None else [row.score for row in rows]
    return [dict(image_links(row), score=score,
                 tier=tier(score, row.content_hash == own_hash, threshold))
            for row, score in zip(rows, scores)]
