"""The gallery as JSON: GET /api/images (a page of the collection) and /api/images/<id>."""
from flask import Blueprint, current_app, jsonify

from ..params import MAX_PAGE, MAX_PER_PAGE, BadRequest, bad_request, positive_int_arg
from ..serving.active_index import served_index
from ..serving.page_cache import cached_page
from ..serving.image_files import image_links
from .images import image_and_lists

bp = Blueprint("api", __name__)
bp.register_error_handler(BadRequest, bad_request)


@bp.get("/api/images")
@cached_page
def list_images():
    """List one page of the collection."""
    page = positive_int_arg("page", 1, MAX_PAGE)
    per_page = positive_int_arg("per_page", current_app.config["PER_PAGE"], MAX_PER_PAGE)
    build = served_index().build
    rows = build.page(page, per_page) if build else []
    return jsonify(total=build.image_count if build else 0, page=page, per_page=per_page,
                   images=[image_links(row) for row in rows])


@bp.get("/api/images/<int:image_id>")
@cached_page
def image_detail(image_id: int):
    """Return an image and its recommendations, best first."""
    build, row, lists = image_and_lists(image_id)
    return jsonify({**image_links(row), "width": row.width, "height": row.height,
                    "metric": build.metric, "ranking": build.ranking, "cluster": row.cluster,
                    "similar": lists.similar, "copies": lists.copies,
                    "distinct": lists.distinct})
