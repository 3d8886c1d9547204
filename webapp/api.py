"""The JSON API and the health check."""
from datetime import timezone

from flask import Blueprint, abort, current_app, jsonify, request

from .active_index import served_index
from core.metrics import MEANING
from .page_cache import cached_page
from .files import image_links, scored_links
from core.records import Build

bp = Blueprint("api", __name__)

MAX_PER_PAGE = 500
MAX_PAGE = 1_000_000  # page x per_page stays a 32-bit integer, as the databases store it


class BadRequest(Exception):
    """A query parameter is invalid; answered as 400 with a JSON message."""


def positive_int_arg(name: str, default: int, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name} must be an integer, not {raw!r}") from None
    if value < 1 or (maximum is not None and value > maximum):
        limit = f" and at most {maximum}" if maximum else ""
        raise BadRequest(f"{name} must be at least 1{limit}")
    return value


@bp.errorhandler(BadRequest)
def bad_request(exc: BadRequest):
    return jsonify(error=str(exc)), 400


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
    served = served_index()
    build = served.build or abort(404)
    row = build.image(image_id) or abort(404)
    similar = scored_links(served.threshold, row.content_hash, build.similar(image_id))
    return jsonify({**image_links(row), "width": row.width, "height": row.height,
                    "metric": build.metric, "cluster": row.cluster,
                    "similar": similar})


@bp.get("/api/index")
@cached_page
def index_facts():
    """Describe the served index: what built it, and how big it is."""
    served = served_index()
    build = served.build
    if build is None:
        return jsonify(error="there is no index yet: run scripts/build_index.py"), 404
    built_at = build.finished_at.replace(tzinfo=timezone.utc).isoformat()
    return jsonify(model=build.model, weights=build.weights, invariance=build.invariance,
                   dim=served.dim, metric=build.metric, score=MEANING[build.metric], k=build.k, images=build.image_count, built_at=built_at)


@bp.get("/healthz")
def healthz():
    """Say whether the database answers, and how many images the site serves."""
    # Asks the database every time, unlike the pages: this is what monitors poll.
    build = Build.active()
    return jsonify(status="ok", images=build.image_count if build else 0)
