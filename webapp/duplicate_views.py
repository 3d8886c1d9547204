"""Duplicate groups of the active index: the HTML page and GET /api/duplicates."""
from __future__ import annotations

import math

from flask import Blueprint, abort, jsonify, render_template, request

from .active_index import served_index
from .api import MAX_PAGE, MAX_PER_PAGE, BadRequest, bad_request, positive_int_arg
from .duplicates import duplicate_groups, page_of_groups
from .files import image_links
from .page_cache import cached_page

bp = Blueprint("duplicates", __name__)
bp.register_error_handler(BadRequest, bad_request)
PER_PAGE = 20


def groups_page(page: int, per_page: int) -> dict:
    """Return one page of duplicate groups with paging facts, as the page and API show it."""
    served = served_index()
    groups = duplicate_groups(served)
    items = page_of_groups(served.build, groups, page, per_page) if served.build else []
    return {"build": served.build, "threshold": served.threshold, "total": len(groups),
            "page": page, "per_page": per_page,
            "pages": max(1, math.ceil(len(groups) / per_page)),
            "groups": [{"tier": g.tier, "size": len(g.positions),
                        "images": [image_links(row) for row in rows]} for g, rows in items]}


@bp.get("/duplicates")
@cached_page
def page():
    """Show one page of duplicate groups."""
    page_number = request.args.get("page", 1, type=int)
    if page_number < 1:
        abort(404)
    body = groups_page(page_number, PER_PAGE)
    if body["page"] > body["pages"]:
        abort(404)
    return render_template("duplicates.html", **body)


@bp.get("/api/duplicates")
@cached_page
def api_duplicates():
    """Return one page of duplicate groups, each with its tier and images in gallery order."""
    body = groups_page(positive_int_arg("page", 1, MAX_PAGE),
                       positive_int_arg("per_page", PER_PAGE, MAX_PER_PAGE))
    del body["build"], body["pages"]
    return jsonify(body)
