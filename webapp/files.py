"""Originals and thumbnails: served from the collection root and thumbnail folder only."""
import os
import re

from flask import Blueprint, abort, current_app, send_file, send_from_directory, url_for

from .imaging import thumbnail_name
from .models import Build

bp = Blueprint("files", __name__)

HASH_PATTERN = re.compile(r"[0-9a-f]{32}")
ONE_YEAR = 365 * 24 * 3600
ONE_HOUR = 3600


def original_url(image_id: int) -> str:
    return url_for("files.original", image_id=image_id)


def thumbnail_url(content_hash: str) -> str:
    return url_for("files.thumbnail", content_hash=content_hash)


def image_links(row) -> dict:
    """Return the id, path and URLs of a row that has id, path and content_hash."""
    return {"id": row.id, "path": row.path, "url": original_url(row.id),
            "thumbnail_url": thumbnail_url(row.content_hash)}


def collection_root(build: Build) -> str:
    """IMAGE_DIR wins over the root the build recorded (the images moved, or another host)."""
    return current_app.config["IMAGE_DIR"] or build.root


def resolve_inside(root: str, relative: str) -> str | None:
    """Return the real path of `relative` under `root`, or None if it resolves outside it."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(os.path.join(real_root, relative))
    if os.path.commonpath([real, real_root]) != real_root or not os.path.isfile(real):
        return None
    return real


@bp.get("/images/<int:image_id>/file")
def original(image_id: int):
    """Send an original file of the active index, with ETag and Last-Modified."""
    build = Build.active() or abort(404)
    row = build.image(image_id) or abort(404)
    path = resolve_inside(collection_root(build), row.path) or abort(404)
    return send_file(path, conditional=True, etag=True, max_age=ONE_HOUR)


@bp.get("/thumbnails/<content_hash>.jpg")
def thumbnail(content_hash: str):
    """Send a thumbnail; its name is its content's hash, so it may be cached forever."""
    if not HASH_PATTERN.fullmatch(content_hash):
        abort(404)
    response = send_from_directory(current_app.config["THUMBNAIL_DIR"],
                                   thumbnail_name(content_hash), max_age=ONE_YEAR)
    response.cache_control.immutable = True
    return response
