"""What the routes read from a request, checked one way: integer parameters, page bounds, and
the upload limit's message. Every feature's blueprint answers BadRequest with bad_request."""
from __future__ import annotations

import math

from flask import abort, current_app, jsonify, request

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


def bad_request(exc: BadRequest):
    return jsonify(error=str(exc)), 400


def page_count(total: int, per_page: int) -> int:
    """Return how many pages `total` items fill, one at least (an empty gallery has a page)."""
    return max(1, math.ceil(total / per_page))


def pages_or_404(page: int, total: int, per_page: int) -> int:
    """Return the page count; 404 when `page` is not one of the pages."""
    pages = page_count(total, per_page)
    if not 1 <= page <= pages:
        abort(404)
    return pages


def too_large_message() -> str:
    """Say what an upload over MAX_UPLOAD_MB is told (413), as JSON or on the page."""
    return f"Uploads are limited to {current_app.config['MAX_UPLOAD_MB']:g} MB"
