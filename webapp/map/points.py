"""The served build's 2-D map as the compact list that /api/map sends."""
from __future__ import annotations

from sqlalchemy import text

from core.db import db
from core.records import Build

DECIMALS = 4  # 1/10000 of the map's side: finer than any screen shows, and a short number

MAP_POINTS = text("""
    SELECT image_id, map_x, map_y, cluster FROM indexed_images
    WHERE build_id = :build AND map_x IS NOT NULL ORDER BY position""")


def map_points(build: Build | None) -> list[list]:
    """Return [[id, x, y, cluster], ...] in gallery order (empty without a map)."""
    if build is None or build.map_method is None:
        return []
    return [[image_id, round(x, DECIMALS), round(y, DECIMALS), cluster]
            for image_id, x, y, cluster in db.session.execute(MAP_POINTS, {"build": build.id})]
