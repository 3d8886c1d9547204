"""Originals and thumbnails: served from the collection root and thumbnail folder only."""
import os
import re
from urllib.parse import quote

from flask import (Blueprint, abort, current_app, g, send_file, send_from_directory,
                   url_for)

from core.imaging import thumbnail_name
from core.locations import is_remote
from core.records import Build
from core.tiers import tier

from .active_index import served_index

bp = Blueprint("files", __name__)

HASH_PATTERN = re.compile(r"[0-9a-f]{32}")
ATLAS_FOLDER = "atlases"  # under the thumbnail folder: the job's indexer/explore/atlases.py
ONE_YEAR = 365 * 24 * 3600
ONE_HOUR = 3600


# Sample values whose place in a URL that url_for built marks where each row's value goes.
SAMPLE_ID, SAMPLE_HASH = 987654321, "f" * 32


def base_urls() -> tuple[str | None, str | None]:
    """Return where originals and thumbnails live when not on this site (None: here)."""
    images = (current_app.config["IMAGE_BASE_URL"] or "").rstrip("/") or None
    thumbnails = (current_app.config["THUMBNAIL_BASE_URL"] or "").rstrip("/") or None
    return images, thumbnails or (images and images + "/thumbnails")


def url_pattern(endpoint: str, **sample) -> tuple[str, str]:
    """Return what url_for(endpoint, **sample) has before and after its one sample value."""
    (value,) = map(str, sample.values())
    before, _, after = url_for(endpoint, **sample).rpartition(value)
    return before, after


class Links:
    """One request's URL builders: url_for once per kind of link, then string formatting.

    url_for goes through the router (tens of microseconds a call) and a gallery page has
    about 150 links, so routing them one by one would cost more than the rest of the page.
    """

    def __init__(self):
        self.images_base, self.thumbnails_base = base_urls()
        # A build from an object store with no IMAGE_BASE_URL: this site has no original to
        # send, so pages show the thumbnail rather than a broken image.
        build = served_index().build
        self.no_originals = not self.images_base and build is not None and is_remote(
            collection_root(build))
        self.page = url_pattern("views.image", image_id=SAMPLE_ID)
        self.original = url_pattern("files.original", image_id=SAMPLE_ID)
        self.thumbnail = url_pattern("files.thumbnail", content_hash=SAMPLE_HASH)

    def original_url(self, image_id: int, path: str, content_hash: str) -> str:
        """Return the original's URL: IMAGE_BASE_URL/<path> when set, else this site's."""
        if self.images_base:
            return f"{self.images_base}/{quote(path)}"
        if self.no_originals:
            return self.thumbnail_url(content_hash)
        return f"{self.original[0]}{image_id}{self.original[1]}"

    def thumbnail_url(self, content_hash: str) -> str:
        """Return the thumbnail's URL: its path in the thumbnail folder under the base, if any."""
        if self.thumbnails_base:
            return f"{self.thumbnails_base}/{thumbnail_name(content_hash)}"
        return f"{self.thumbnail[0]}{content_hash}{self.thumbnail[1]}"

    def atlas_url(self, name: str) -> str:
        """Return the URL of an atlas sheet, named atlases/<hash>.jpg in the thumbnail folder."""
        if self.thumbnails_base:
            return f"{self.thumbnails_base}/{name}"
        return url_for("files.atlas", sheet=name.removeprefix(ATLAS_FOLDER + "/")[:-4])

    def page_url(self, image_id: int) -> str:
        return f"{self.page[0]}{image_id}{self.page[1]}"


def links() -> Links:
    """Return this request's link builders."""
    if "links" not in g:
        g.links = Links()
    return g.links


@bp.app_template_global()
def image_page_url(image_id: int) -> str:
    """Return the URL of an image's page (what url_for('views.image', ...) gives, faster)."""
    return links().page_url(image_id)


def image_links(row) -> dict:
    """Return the id, path and URLs of a row that has id, path and content_hash."""
    made = links()
    return {"id": row.id, "path": row.path,
            "url": made.original_url(row.id, row.path, row.content_hash),
            "thumbnail_url": made.thumbnail_url(row.content_hash)}


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
    build = served_index().build or abort(404)
    row = build.image(image_id) or abort(404)
    root = collection_root(build)
    if is_remote(root):  # built from an object store: the originals are at IMAGE_BASE_URL
        abort(404)
    path = resolve_inside(root, row.path) or abort(404)
    return send_file(path, conditional=True, etag=True, max_age=ONE_HOUR)


@bp.get("/thumbnails/<content_hash>.jpg")
def thumbnail(content_hash: str):
    """Send a thumbnail; its name is its content's hash, so it may be cached forever."""
    if not HASH_PATTERN.fullmatch(content_hash):
        abort(404)
    return send_immutable(thumbnail_name(content_hash))


@bp.get("/thumbnails/atlases/<sheet>.jpg")
def atlas(sheet: str):
    """Send a sheet of the map's small pictures; named by its content, so cached forever."""
    if not HASH_PATTERN.fullmatch(sheet):
        abort(404)
    return send_immutable(f"{ATLAS_FOLDER}/{sheet}.jpg")


def send_immutable(name: str):
    """Send a file of the thumbnail folder whose name says its content: cached for a year."""
    response = send_from_directory(current_app.config["THUMBNAIL_DIR"], name, max_age=ONE_YEAR)
    response.cache_control.immutable = True
    return response


def scored_links(threshold: float | None, own_hash: str, rows, scores=None,
                 cosines=None) -> list[dict]:
    """Return the JSON/template entries of matches, each with its score, cosine and tier.

    `rows` have id, path and content_hash, and score (and cosine, where stored) unless
    `scores` (and `cosines`) give them in order. The score is what a list is ordered by;
    the cosine, the raw cosine of the embeddings (None where a build predates it), is what
    names the tier: the near-duplicate threshold is calibrated on raw cosines.
    """
    scores = scores if scores is not None else [row.score for row in rows]
    cosines = cosines if cosines is not None else [getattr(row, "cosine", None) for row in rows]
    return [dict(image_links(row), score=score, cosine=cosine,
                 tier=tier(score if cosine is None else cosine, row.content_hash == own_hash,
                           threshold))
            for row, score, cosine in zip(rows, scores, cosines)]
