"""Search by uploaded image: the HTML page and POST /api/search."""
from __future__ import annotations

import base64
import contextlib
import io
import logging
import threading

from flask import Blueprint, current_app, jsonify, render_template
from PIL import Image
from werkzeug.exceptions import RequestEntityTooLarge

from core.hashing import content_hash
from core.imaging import THUMBNAIL_SIZE, DecodedInput
from core.ranking import RAW
from core.records import Build

from . import mapped_index
from ..serving.active_index import served_index
from ..serving.image_files import scored_links
from ..errors import wants_json
from .copies import confirm_by_pixels
from .ranked import learned_space, ranked_matrix, ranked_search
from .exact import Match, SearchUnavailable, query_embedder, search, search_matrix
from ..params import too_large_message
from .uploads import MAX_K, UploadError, requested_k, uploaded_image

bp = Blueprint("search", __name__)
log = logging.getLogger(__name__)
SLOTS = "search_slots"
bp.record_once(lambda state: state.app.extensions.setdefault(
    SLOTS, threading.BoundedSemaphore(state.app.config["SEARCHES_PER_WORKER"])))


@contextlib.contextmanager
def search_slot():
    """Hold one of this worker's search slots; raise UploadError (503) when all are taken."""
    slots = current_app.extensions[SLOTS]
    if not slots.acquire(blocking=False):
        raise UploadError("the server is busy with other searches; try again in a moment",
                          503, retry_after=1)
    try:
        yield
    finally:
        slots.release()


def run_search() -> tuple[Build, list[dict], DecodedInput]:
    """Search the served index with the uploaded image; raise UploadError for a bad request.

    Only the upload's own faults are 400s; a database failure while loading the index or
    reading the results propagates and is answered 503 (webapp/errors.py).
    """
    served = served_index()
    build = served.build
    data = uploaded_image()  # read whole before taking a slot: a slow client holds none
    k = requested_k(build.k if build else MAX_K)
    with search_slot():
        try:
            embedder = query_embedder(served)
        except SearchUnavailable as exc:
            raise UploadError(str(exc), 503) from None
        # Decoded before the matrix loads: a bad upload costs a cold worker no index load.
        upload = decoded_upload(embedder, data)
        matches = search_served(served, embedder, upload, k)
    own_hash = content_hash(data)
    matches = exact_first(build, own_hash, matches, k)
    found = build.images(m.image_id for m in matches)
    rows = [found[m.image_id] for m in matches]
    entries = scored_links(served.threshold, own_hash, rows, [m.score for m in matches],
                           [m.cosine for m in matches])
    confirm_by_pixels(entries, [row.content_hash for row in rows], upload.decoded.rgb,
                      build.invariance)
    return build, entries, upload


def exact_first(build: Build, own_hash: str, matches: list[Match], k: int) -> list[Match]:
    """Put the indexed files with the upload's very bytes first, whatever the model says.

    A byte-identical file is the upload: with random or weak weights its vector may rank
    it below others (a near-zero vector, engines that disagree in the last bits).
    """
    same = [row.id for row in build.with_content(own_hash)]  # a few ids: a list will do
    if not same:
        return matches
    found = {m.image_id: m.score for m in matches}
    best = matches[0].score if matches else 1.0
    perfect = {"cosine": 1.0, "euclidean": 0.0}.get(build.metric)
    exact = [Match(i, perfect if perfect is not None else found.get(i, best), 1.0)
             for i in same]
    return (exact + [m for m in matches if m.image_id not in same])[:k]


def search_served(served, embedder, upload: DecodedInput, k: int):
    """Search through the build's approximate index where it has one, else exactly."""
    try:
        mapped = mapped_index.mapped_index(served)
    except SearchUnavailable as exc:
        raise UploadError(str(exc), 503) from None
    if mapped is None:
        ranked = ranked_matrix(served)
        if ranked is not None:
            return ranked_search(embedder, search_matrix(served), ranked, upload.pixels, k)
        return search(embedder, search_matrix(served), upload.pixels, k)
    query, _ = embedder.embed(upload.pixels)
    if mapped.space == RAW:
        return mapped_index.search(mapped, served.build, query, k)
    return mapped_index.ranked_search(mapped, served.build, learned_space(served), query, k)


def decoded_upload(embedder, data: bytes) -> DecodedInput:
    """Return the upload decoded and cut; raise UploadError if it cannot be decoded."""
    # Far below Pillow's limit (which the job keeps): a worker decodes up to 4 bytes a pixel.
    megapixels = current_app.config["MAX_UPLOAD_MEGAPIXELS"]
    try:
        return embedder.model_input(data, int(megapixels * 1_000_000))
    except Image.DecompressionBombError as exc:
        raise UploadError(f"the image is too large to decode safely ({exc}); uploads are "
                          f"limited to {megapixels:g} megapixels", 413) from None
    except Exception as exc:  # decoding touches no database: any failure is the upload's
        log.info("unreadable upload: %s: %s", exc.__class__.__name__, exc)
        raise UploadError("the upload is not an image this site can read "
                          "(JPEG, PNG, WebP, GIF, BMP, TIFF or PPM/PGM/PBM)") from None


@bp.get("/search")
def page():
    """Show the search form."""
    return render_template("search.html", build=served_index().build, results=None)


@bp.post("/search")
def page_results():
    """Show the collection's images most similar to the uploaded one."""
    try:
        build, results, upload = run_search()
    except UploadError as exc:
        return render_template("search.html", build=served_index().build, results=None,
                               error=exc.message), exc.status, exc.headers()
    return render_template("search.html", build=build, results=results,
                           preview=preview_url(upload.decoded.rgb), ranking=upload_ranking(build))


def preview_url(rgb: Image.Image) -> str:
    """Return the upload as a small JPEG data URL, shown above its results (never stored)."""
    thumb = rgb.copy()
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


@bp.post("/api/search")
def api_search():
    """Return the collection's images most similar to the uploaded one, best first."""
    try:
        build, results, _ = run_search()
    except UploadError as exc:
        return jsonify(error=exc.message), exc.status, exc.headers()
    return jsonify(results=results, metric=build.metric, ranking=upload_ranking(build))


def upload_ranking(build: Build) -> str:
    """Return the space an upload's scores are in: the build's, or raw where its approximate
    index holds the raw vectors (built before the index held the learned ones)."""
    mapped = mapped_index.mapped_index(served_index())
    return mapped.space if mapped else build.ranking


@bp.errorhandler(RequestEntityTooLarge)
def too_large(_exc):
    """Answer an upload over MAX_UPLOAD_MB with 413 and a message, JSON or on the page."""
    message = too_large_message()
    if wants_json():
        return jsonify(error=message), 413
    return render_template("search.html", build=served_index().build, results=None,
                           error=message), 413
