"""One image of the served build with its lists: what its page and its JSON show.

Three lists: the stored recommendations as the job ranked them (`similar`), the image's
copies, and its distinct list (the page's "Most similar": none a copy of the image or of
another listed image). The job stores copies and a distinct list only for images whose
stored list holds a copy (indexer/neighbors/distinct.py); for every other image the stored
list is the distinct one.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort

from core.tiers import EXACT, NEAR_DUPLICATE

from ..serving.active_index import served_index
from ..serving.image_files import scored_links


@dataclass
class ImageLists:
    similar: list[dict]   # the stored recommendations, as the job ranked them
    copies: list[dict]    # exact copies and near-duplicates of the image, closest first
    distinct: list[dict]  # "Most similar": none a copy of the image or of another listed


def image_and_lists(image_id: int):
    """Return (build, image row, its ImageLists, each entry with score and tier); 404 if
    the image is unknown.

    A near-duplicate is what the job found a copy of the image (a cosine at or above the
    threshold and the same pixels): a quarter of a photo of grass scores as high as its
    copies, but its pixels differ.
    """
    served = served_index()
    build = served.build or abort(404)
    row = build.image(image_id) or abort(404)
    stored = build.similar(image_id)
    related = build.related(image_id)
    if not related:  # its list holds no copy: every entry is merely similar, or exact
        similar = scored_links(None, row.content_hash, stored)
        return build, row, ImageLists(similar, [], similar)
    kinds = {kind: [r for r in related if r.kind == kind] for kind in ("copy", "distinct")}
    # The job's copy rule names the tiers: exact for the same content, near-duplicate for
    # its other copies, similar for the rest.
    copy_ids = {r.id for r in kinds["copy"]}
    lists = [scored_links(None, row.content_hash, rows)
             for rows in (stored, kinds["copy"], kinds["distinct"])]
    for entries in lists:
        for entry in entries:
            if entry["tier"] != EXACT and entry["id"] in copy_ids:
                entry["tier"] = NEAR_DUPLICATE
    return build, row, ImageLists(*lists)
