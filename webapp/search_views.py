"""Search by uploaded image: the HTML page and POST /api/search."""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, render_template
from PIL import Image
from werkzeug.exceptions import RequestEntityTooLarge

from . import tiers
from .errors import wants_json
from .models import Build
from .search import SearchUnavailable, content_hash, search
from .uploads import UploadError, requested_k, too_large_message, uploaded_image

bp = Blueprint("search", __name__)
log = logging.getLogger(__name__)


def run_search() -> tuple[Build, list[dict]]:
    """Search the active index with the uploaded image; raise UploadError for a bad request."""
    build = Build.active()
    if build is None:
        raise UploadError("there is no index to search yet: run scripts/build_index.py", 503)
    data = uploaded_image()
    k = requested_k(build.k)
    # An upload bigger than Pillow's limit is refused, not only warned about as the job does.
    max_pixels = Image.MAX_IMAGE_PIXELS
    try:
        matches = search(build, data, k, max_pixels)
    except SearchUnavailable as exc:
        raise UploadError(str(exc), 503) from None
    except Image.DecompressionBombError as exc:
        raise UploadError(f"the image is too large to decode safely: {exc}") from None
    except Exception as exc:  # any decoder error on any upload is a 400, as a skip in the job
        log.info("unreadable upload: %s: %s", exc.__class__.__name__, exc)
        raise UploadError("the upload is not an image this site can read "
                          "(JPEG, PNG, WebP, GIF, BMP or TIFF)") from None
    rows = build.images(m.image_id for m in matches)
    return build, tiers.entries(build, content_hash(data), [rows[m.image_id] for m in matches],
                                [m.score for m in matches])


@bp.get("/search")
def page():
    """Show the search form."""
    return render_template("search.html", build=Build.active(), results=None)


@bp.post("/search")
def page_results():
    """Show the collection's images most similar to the uploaded one."""
    try:
        build, results = run_search()
    except UploadError as exc:
        return render_template("search.html", build=Build.active(), results=None,
                               error=exc.message), exc.status
    return render_template("search.html", build=build, results=results)


@bp.post("/api/search")
def api_search():
    """Return the collection's images most similar to the uploaded one, best first."""
    try:
        _, results = run_search()
    except UploadError as exc:
        return jsonify(error=exc.message), exc.status
    return jsonify(results=results)


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """Answer an upload over MAX_UPLOAD_MB with 413 and a message, JSON or on the page."""
    message = too_large_message()
    if wants_json():
        return jsonify(error=message), 413
    return render_template("search.html", build=Build.active(), results=None,
                           error=message), 413
