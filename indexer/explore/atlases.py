"""Sprite sheets of small thumbnails for the map page: a view of thousands of pictures in a
handful of requests.

A sheet holds COLUMNS x COLUMNS square cells of CELL pixels, each the middle square of an
image's thumbnail, as one JPEG in the thumbnail folder (or under its s3:// prefix):
atlases/<hash>.jpg. Images go into sheets by zoom level first (the coarser of the scatter's
and the grid's), then along a Z-order curve of their places, so the pictures of either
overview share the first sheets, and those of a zoomed-in region share a few. A sheet is named by a hash of its members' content hashes (and
of its cell size), so a build whose sheets would hold the same pictures finds them written
and writes nothing; being immutable, they are cached like the thumbnails.
"""
from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from core import locations
from core.atomic import write_atomically
from core.imaging import thumbnail_name

CELL = 64          # pixels a side: a picture of the overview on a phone or a desktop
COLUMNS = 16       # cells a side: 256 pictures, about 150 KB a sheet
QUALITY = 80
FOLDER = "atlases"
ORDER_BITS = 10    # the Z-order curve runs over a 1024 x 1024 grid of the map


@dataclass
class Atlases:
    """Where each image's picture is: sheet `slot // per_sheet`, cell `slot % per_sheet`."""

    sheets: list[str]       # names under the thumbnail folder, in order
    slots: np.ndarray       # per image, gallery order
    written: int = 0        # sheets this run wrote (the others existed already)

    def as_json(self) -> dict:
        return {"cell": CELL, "columns": COLUMNS, "sheets": self.sheets}


def sheet_name(member_hashes: list[str]) -> str:
    """Return a sheet's path under the thumbnail folder, from what it holds."""
    digest = hashlib.sha256(f"{CELL}x{COLUMNS}:{QUALITY}\n".encode())
    digest.update("\n".join(member_hashes).encode())
    return f"{FOLDER}/{digest.hexdigest()[:32]}.jpg"


def z_order(places: np.ndarray) -> np.ndarray:
    """Return each place's index along a Z-order curve: near places get near indexes."""
    cells = np.clip((places * (1 << ORDER_BITS)).astype(np.int64), 0, (1 << ORDER_BITS) - 1)
    index = np.zeros(len(places), dtype=np.int64)
    for bit in range(ORDER_BITS):
        index |= ((cells[:, 0] >> bit) & 1) << (2 * bit)
        index |= ((cells[:, 1] >> bit) & 1) << (2 * bit + 1)
    return index


def atlas_order(places: np.ndarray, levels: np.ndarray) -> np.ndarray:
    """Return the images' indexes in the order they fill the sheets: by level, then nearby."""
    return np.lexsort((z_order(places), levels))


def write_atlases(thumbnail_dir: str, hashes: list[str], places: np.ndarray,
                  levels: np.ndarray) -> Atlases:
    """Write the sheets not written yet and return every image's slot in them.

    `levels`: the zoom from which each image is drawn (the coarsest of its views' levels).
    """
    order = atlas_order(places, levels)
    slots = np.empty(len(hashes), dtype=np.int64)
    slots[order] = np.arange(len(hashes))
    existing = existing_sheets(thumbnail_dir)
    per_sheet, sheets, written = COLUMNS * COLUMNS, [], 0
    for start in range(0, len(order), per_sheet):
        members = [hashes[i] for i in order[start:start + per_sheet]]
        name = sheet_name(members)
        if name not in existing:
            write_sheet(thumbnail_dir, name, members)
            written += 1
        sheets.append(name)
    return Atlases(sheets, slots, written)


def existing_sheets(thumbnail_dir: str) -> set[str]:
    """Return the sheet names already under the thumbnail folder (one listing)."""
    if locations.is_remote(thumbnail_dir):
        try:
            return {f"{FOLDER}/{name}" for name in
                    locations.list_objects(locations.join(thumbnail_dir, FOLDER))}
        except locations.SourceError:  # no sheet yet: some stores cannot list an empty prefix
            return set()
    folder = os.path.join(thumbnail_dir, FOLDER)
    return {f"{FOLDER}/{name}" for name in os.listdir(folder)} if os.path.isdir(folder) else set()


def write_sheet(thumbnail_dir: str, name: str, members: list[str]) -> None:
    """Compose one sheet from the members' thumbnails and store it whole."""
    rows = -(-len(members) // COLUMNS)
    sheet = Image.new("RGB", (COLUMNS * CELL, rows * CELL), (255, 255, 255))
    for index, content_hash in enumerate(members):
        with locations.open_binary(locations.join(thumbnail_dir, thumbnail_name(content_hash))) as f:
            sheet.paste(square(f), ((index % COLUMNS) * CELL, (index // COLUMNS) * CELL))
    out = io.BytesIO()
    sheet.save(out, "JPEG", quality=QUALITY)
    target = locations.join(thumbnail_dir, name)
    if locations.is_remote(thumbnail_dir):
        locations.write_bytes(target, out.getvalue())
    else:
        write_atomically(target, out.getvalue())


def square(source) -> Image.Image:
    """Return the middle square of a thumbnail, CELL pixels a side."""
    with Image.open(source) as picture:
        # JPEG's DCT scaling decodes at 1/2, 1/4 or 1/8 straight away: most of the cost saved.
        picture.draft("RGB", (CELL, CELL))
        picture = picture.convert("RGB")
        side = min(picture.size)
        left, top = (picture.width - side) // 2, (picture.height - side) // 2
        return picture.resize((CELL, CELL), Image.Resampling.BILINEAR,
                              box=(left, top, left + side, top + side), reducing_gap=2.0)
