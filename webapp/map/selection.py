"""The images inside a rectangle of the map or of its grid view: what a selection takes away."""
from __future__ import annotations

import csv
import io
import math

from sqlalchemy import text

from core.db import db
from core.records import Build

from ..duplicates.views import spreadsheet_safe
from ..params import BadRequest
from ..serving.image_files import image_links, links

LAYOUTS = {  # the columns that hold each view's places, and the table they are in
    "map": ("i.map_x", "i.map_y"),
    "grid": ("p.grid_x", "p.grid_y"),
}
COLUMNS = ("id", "path", "url", "page_url", "x", "y")


def parse_box(raw: str) -> tuple[float, float, float, float]:
    """Return (x0, y0, x1, y1) from "x0,y0,x1,y1", lower corner first."""
    try:
        x0, y0, x1, y1 = (float(part) for part in raw.split(","))
    except ValueError:
        raise BadRequest("box must be four numbers: x0,y0,x1,y1") from None
    if not all(math.isfinite(v) for v in (x0, y0, x1, y1)):  # JSON has no NaN or Infinity
        raise BadRequest("box must be four finite numbers: x0,y0,x1,y1")
    return min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)


def selected_images(build: Build | None, layout: str, box: tuple) -> list[dict]:
    """Return the images whose place in `layout` lies inside `box`, in gallery order."""
    if layout not in LAYOUTS:
        raise BadRequest(f"layout must be one of {', '.join(LAYOUTS)}")
    if build is None or build.map_method is None:
        return []
    x, y = LAYOUTS[layout]
    query = text(f"""
        SELECT m.id, m.path, i.content_hash, {x} AS x, {y} AS y
        FROM indexed_images i JOIN images m ON m.id = i.image_id
        LEFT JOIN map_pictures p ON p.build_id = i.build_id AND p.image_id = i.image_id
        WHERE i.build_id = :build AND {x} BETWEEN :x0 AND :x1 AND {y} BETWEEN :y0 AND :y1
        ORDER BY i.position""")
    rows = db.session.execute(query, dict(zip(("x0", "y0", "x1", "y1"), box), build=build.id))
    made = links()
    return [dict(image_links(row), page_url=made.page_url(row.id), x=row.x, y=row.y)
            for row in rows]


def as_csv(images: list[dict]) -> str:
    """Return the selection as CSV: id, path, url, page_url, x, y."""
    out = io.StringIO()
    writer = csv.DictWriter(out, COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows({name: spreadsheet_safe(value) for name, value in image.items()}
                     for image in images)
    return out.getvalue()
