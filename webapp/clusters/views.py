"""The served build's clusters: /clusters, /clusters/<c>, /clusters/curve.png, /api/clusters."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, make_response, render_template, request

from core.records import ClusterCurve

from ..serving.active_index import served_index
from ..params import (MAX_PAGE, MAX_PER_PAGE, BadRequest, bad_request, pages_or_404,
                      positive_int_arg)
from .members import STRIP, cluster_members, curve_part, page_of_cluster, strips
from ..serving.image_files import image_links
from ..serving.page_cache import cached_page

bp = Blueprint("clusters", __name__)
bp.register_error_handler(BadRequest, bad_request)
NO_CLUSTERS = "none"


def overview() -> dict:
    """Return k, how it was chosen, and every cluster with its size and first images."""
    served = served_index()
    build = served.build
    members = cluster_members(served)
    shown = strips(build, members) if members else {}
    return {"build": build, "k": len(members),
            "method": (build.cluster_method if members else None) or NO_CLUSTERS,
            "clusters": [{"id": c, "size": len(positions),
                          "images": [image_links(row) for row in shown[c]]}
                         for c, positions in members.items()]}


@bp.get("/clusters")
@cached_page
def page():
    """Show every cluster with its size and a strip of thumbnails, and the curve behind k."""
    body = overview()
    curve = curve_part(body["build"], ClusterCurve.curve) if body["k"] else None
    return render_template("clusters.html", curve=curve, strip=STRIP, **body)


def members_page(cluster_id: int, page: int, per_page: int) -> tuple[int, int, list[dict]]:
    """Return (cluster size, pages, images of page `page`); 404 for no such cluster or page."""
    served = served_index()
    positions = cluster_members(served).get(cluster_id)
    if positions is None:
        abort(404)
    pages = pages_or_404(page, len(positions), per_page)
    rows = page_of_cluster(served.build, positions, page, per_page)
    return len(positions), pages, [image_links(row) for row in rows]


@bp.get("/clusters/<int:cluster_id>")
@cached_page
def cluster(cluster_id: int):
    """Show one page of a cluster's images, in gallery order."""
    page_number = request.args.get("page", 1, type=int)
    size, pages, images = members_page(cluster_id, page_number, current_app.config["PER_PAGE"])
    return render_template("cluster.html", build=served_index().build, cluster_id=cluster_id,
                           size=size, images=images, page=page_number, pages=pages)


@bp.get("/clusters/curve.png")
@cached_page
def curve():
    """Send the PNG of the inertia and silhouette curve that chose k (404 without one)."""
    build = served_index().build or abort(404)
    png = curve_part(build, ClusterCurve.png) or abort(404)
    response = make_response(png)
    response.content_type = "image/png"
    return response


@bp.get("/api/clusters")
@cached_page
def api_clusters():
    """Return {"k", "method", "clusters": [{"id", "size", "images"}]}; k 0 without clusters."""
    body = overview()
    del body["build"]
    return jsonify(body)


@bp.get("/api/clusters/<int:cluster_id>")
@cached_page
def api_cluster(cluster_id: int):
    """Return one page of a cluster's images: {"id", "size", "page", "per_page", "images"}."""
    page_number = positive_int_arg("page", 1, MAX_PAGE)
    per_page = positive_int_arg("per_page", current_app.config["PER_PAGE"], MAX_PER_PAGE)
    size, _, images = members_page(cluster_id, page_number, per_page)
    return jsonify(id=cluster_id, size=size, page=page_number, per_page=per_page,
                   images=images)
