"""The three lists of an image page: the stored list, the image's copies, its distinct list."""
from __future__ import annotations

from dataclasses import dataclass

from . import tiers
from .active_index import ServedIndex


@dataclass
class ImageLists:
    similar: list[dict]   # the stored recommendations, as the job ranked them
    copies: list[dict]    # exact copies and near-duplicates of the image, closest first
    distinct: list[dict]  # "Most similar": none a copy of the image or of another listed


def image_lists(served: ServedIndex, row) -> ImageLists:
    """Return an image's lists, each entry with its score and tier.

    A near-duplicate is what the job found a copy of the image (a cosine at or above the
    threshold and the same pixels): a quarter of a photo of grass scores as high as its
    copies, but its pixels differ. The job stores copies and a distinct list only for images whose stored list holds a
    copy (neighbors/distinct.py); for every other image the stored list is the distinct one.
    """
    build = served.build
    stored = build.similar(row.id)
    related = build.related(row.id)
    if not related:  # its list holds no copy: every entry is merely similar or exact
        similar = tiers.entries(None, row.content_hash, stored)
        return ImageLists(similar, [], similar)
    kinds = {kind: [r for r in related if r.kind == kind] for kind in ("copy", "distinct")}
    # The job's copy rule (a cosine at the threshold and the same pixels) names the tiers:
    # exact for the same content, near-duplicate for its other copies, similar for the rest.
    copy_ids = {r.id for r in kinds["copy"]}
    lists = [tiers.entries(None, row.content_hash, rows)
             for rows in (stored, kinds["copy"], kinds["distinct"])]
    for entries in lists:
        for entry in entries:
            if entry["tier"] != tiers.EXACT and entry["id"] in copy_ids:
                entry["tier"] = tiers.NEAR_DUPLICATE
    return ImageLists(*lists)
