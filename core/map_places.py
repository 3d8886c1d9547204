"""The 2-D map's places as the site sends them: one rounding shared by the job and the site.

The job picks each zoom level's picture from the places the browser will see (rounded), so
that the browser, cutting the same places into the same cells, finds one picture per cell.
"""
from __future__ import annotations

DECIMALS = 4  # 1/10000 of the map's side: finer than any screen shows, and a short number


def rounded(value: float) -> float:
    """Return a map coordinate as /api/map sends it."""
    return round(float(value), DECIMALS)
