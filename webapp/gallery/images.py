"""One image of the served build with its stored recommendations: what its page and its JSON
show."""
from __future__ import annotations

from flask import abort

from ..serving.active_index import served_index
from ..serving.image_files import scored_links


def image_and_similar(image_id: int):
    """Return (build, image row, its recommendations with scores and tiers); 404 if unknown."""
    served = served_index()
    build = served.build or abort(404)
    row = build.image(image_id) or abort(404)
    return build, row, scored_links(served.threshold, row.content_hash, build.similar(image_id))
