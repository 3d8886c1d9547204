"""Which results of a search by upload are copies of it: the job's copy rule, for uploads.

A result is a near-duplicate of the upload when its cosine reaches the threshold and its
pixels match (core/pixel_match.py), as the job decides it between indexed images. The
indexed image's signature comes from its thumbnail, on this machine's THUMBNAIL_DIR; where
that cannot be read (thumbnails only on a CDN), the cosine alone decides, as before.
"""
from __future__ import annotations

import os

from flask import current_app

from core.imaging import thumbnail_name
from core.pixel_match import read_signature, same_picture, signature
from core.tiers import NEAR_DUPLICATE, SIMILAR


def confirm_by_pixels(entries: list[dict], hashes: list[str], upload: Image.Image,
                      invariance: str) -> None:
    """Demote to `similar` each near-duplicate entry whose pixels differ from the upload's."""
    mine = None
    for entry, content_hash in zip(entries, hashes):
        if entry["tier"] != NEAR_DUPLICATE:
            continue
        theirs = thumbnail_signature(content_hash)
        if theirs is None:
            continue
        mine = signature(upload) if mine is None else mine
        if not same_picture(mine, theirs, invariance):
            entry["tier"] = SIMILAR


def thumbnail_signature(content_hash: str):
    """Return the pixel signature of an indexed image's thumbnail, None if not readable."""
    return read_signature(os.path.join(current_app.config["THUMBNAIL_DIR"],
                                       thumbnail_name(content_hash)))
