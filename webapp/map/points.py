"""The served build's 2-D map as the compact lists that /api/map sends."""
from __future__ import annotations

from sqlalchemy import text

from core.db import db
from core.map_places import rounded
from core.records import Build, MapAtlas

from ..serving.image_files import links

# LEFT JOIN: builds from before the map's pictures have places but no levels or atlases.
MAP_POINTS = text("""
    SELECT i.image_id, i.map_x, i.map_y, i.cluster,
           p.level, p.atlas_slot, p.grid_x, p.grid_y, p.grid_level
    FROM indexed_images i LEFT JOIN map_pictures p
      ON p.build_id = i.build_id AND p.image_id = i.image_id
    WHERE i.build_id = :build AND i.map_x IS NOT NULL ORDER BY i.position""")


def map_points(build: Build | None) -> dict:
    """Return /api/map's body: the points in gallery order and, per point, how it is drawn.

    "points": [[id, x, y, cluster], ...]; where the build has them, in the same order,
    "levels" (the zoom from which it is its cell's picture), "slots" (its cell in the atlas
    sheets), "grid" ([x, y] of its cell on the grid view) and "grid_levels"; and "atlas"
    ({"cell", "columns", "urls"}). Without them the page falls back to single thumbnails.
    """
    if build is None or build.map_method is None:
        return {"points": []}
    rows = db.session.execute(MAP_POINTS, {"build": build.id}).all()
    body = {"points": [[row.image_id, rounded(row.map_x), rounded(row.map_y), row.cluster]
                       for row in rows]}
    atlas = db.session.scalar(db.select(MapAtlas.atlas).where(MapAtlas.build_id == build.id))
    if atlas is None or any(row.level is None for row in rows):
        return body
    made = links()
    body.update(levels=[row.level for row in rows], slots=[row.atlas_slot for row in rows],
                grid=[[rounded(row.grid_x), rounded(row.grid_y)] for row in rows],
                grid_levels=[row.grid_level for row in rows],
                atlas={"cell": atlas["cell"], "columns": atlas["columns"],
                       "urls": [made.atlas_url(name) for name in atlas["sheets"]]})
    return body
