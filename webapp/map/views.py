"""The served build's 2-D map: the page (a canvas, static/map.js) and its data."""
from __future__ import annotations

from flask import Blueprint, Response, jsonify, render_template, request

from ..serving.active_index import served_index
from ..ids import possible_ids
from ..params import BadRequest, bad_request
from ..serving.image_files import SAMPLE_ID, image_links, url_pattern
from .points import map_points
from .selection import as_csv, parse_box, selected_images
from ..serving.page_cache import cached_page

bp = Blueprint("map", __name__)
bp.register_error_handler(BadRequest, bad_request)
MAX_DETAILS = 500  # images per /api/map/images request: what one zoomed-in screen shows


@bp.get("/map")
@cached_page
def page():
    """Show the collection on a zoomable canvas; the points come from /api/map."""
    build = served_index().build
    before, after = url_pattern("views.image", image_id=SAMPLE_ID)
    return render_template("map.html", build=build, image_page=(before, after))


@bp.get("/api/map")
@cached_page
def api_map():
    """Return {"points": [[id, x, y, cluster], ...], ...}: x and y in [0, 1], gallery order.

    Also, where the build has them, each point's zoom level, atlas cell and grid cell, and
    the atlas sheets' URLs (points.py).
    """
    return jsonify(map_points(served_index().build))


@bp.get("/api/map/images")
def map_images():
    """Return the names and thumbnails of up to MAX_DETAILS images: ?ids=1,2,3.

    The map asks for those it is about to draw as thumbnails or name under the pointer, so
    /api/map itself stays four numbers a point.
    """
    try:
        ids = [int(part) for part in request.args.get("ids", "").split(",") if part]
    except ValueError:
        raise BadRequest("ids must be integers separated by commas") from None
    if len(ids) > MAX_DETAILS:
        raise BadRequest(f"at most {MAX_DETAILS} ids at a time")
    ids = possible_ids(ids)
    build = served_index().build
    rows = build.images(ids) if build and ids else {}
    return jsonify(images=[image_links(rows[i]) for i in ids if i in rows])


@bp.get("/api/map/selection")
def selection():
    """Return the images inside ?box=x0,y0,x1,y1 of ?layout=map|grid, as JSON or ?format=csv.

    JSON: {"layout", "box", "count", "images": [{"id", "path", "url", "thumbnail_url",
    "page_url", "x", "y"}]}, gallery order; both formats download as a file.
    """
    layout, kind = request.args.get("layout", "map"), request.args.get("format", "json")
    if kind not in ("json", "csv"):
        raise BadRequest("format must be json or csv")
    box = parse_box(request.args.get("box", ""))
    images = selected_images(served_index().build, layout, box)
    if kind == "csv":
        return Response(as_csv(images), mimetype="text/csv", headers={
            "Content-Disposition": "attachment; filename=map-selection.csv"})
    response = jsonify(layout=layout, box=box, count=len(images), images=images)
    if request.args.get("format"):  # asked for as a file (the page's download link)
        response.headers["Content-Disposition"] = "attachment; filename=map-selection.json"
    return response
