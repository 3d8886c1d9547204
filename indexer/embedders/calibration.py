"""Calibrate the near-duplicate threshold of a model on transformed copies vs other pictures.

A near-duplicate is the same picture re-encoded, resized, cropped a little or colour-edited.
Each picture of the calibration set (drawn ones, and photographs the wheels ship) is saved as
a JPEG "original", as one copy per edit below, and cut into parts (its quarters and halves:
other pictures, which share its content). Every file goes through bytes and the job's own
decode and crop, as a collection file would. The threshold is a cosine: the (original, copy)
scores are what it must keep, the scores of different pictures what it must reject. Parts
of one photograph (a quarter of a photo of grass) can score as high as its copies: the
pixel check (core/pixel_match.py) rejects those, and the report counts, for copies,
parts and different pictures alike, how many pairs the whole rule (a cosine at the
threshold and the same pixels) calls duplicates.
"""
from __future__ import annotations

import io
import random
from typing import Callable

import numpy as np
from PIL import Image

from core.imaging import Preprocessing
from core.pixel_match import PIXEL_THRESHOLD, pixel_similarity, signature
from samples.pictures import base_picture, photographs

# Calibration version, stored with its result: 2 added photographs, a colour edit, parts
# of pictures as hard negatives and the pixel check's counts.
VERSION = 2
CALIBRATION_PICTURES = 16
CALIBRATION_SEED = 20
# The photographs the calibration sees; the other nine (astronaut, chelsea, coffee, grass,
# hubble_deep_field, motorcycle, china, flower, immunohistochemistry) are held back for the
# tests and the README's measurements.
CALIBRATION_PHOTOS = ("rocket", "camera", "coins", "moon", "brick", "gravel", "cell", "retina")
ORIGINAL_QUALITY = 92
COPY_QUALITY = 85


def _crop(img: Image.Image, keep: float) -> Image.Image:
    w, h = img.size
    dx, dy = int(w * (1 - keep) / 2), int(h * (1 - keep) / 2)
    return img.crop((dx, dy, w - dx, h - dy))


def _resize(img: Image.Image, scale: float) -> Image.Image:
    w, h = img.size
    return img.resize((max(1, int(w * scale)), max(1, int(h * scale))),
                      Image.Resampling.LANCZOS)


def _warmer(img: Image.Image) -> Image.Image:
    """Return the picture colour-edited: red up 8%, blue down 8%."""
    red, green, blue = img.split()
    return Image.merge("RGB", (red.point(lambda v: min(255, int(v * 1.08))), green,
                               blue.point(lambda v: int(v * 0.92))))


# edit name -> (change to the pixels, JPEG quality of the copy)
EDITS: dict[str, tuple[Callable[[Image.Image], Image.Image], int]] = {
    "re-encoded at quality 60": (lambda img: img, 60),
    "resized to 50%": (lambda img: _resize(img, 0.5), COPY_QUALITY),
    "cropped 5% a side": (lambda img: _crop(img, 0.9), COPY_QUALITY),
    "cropped 3%, resized to 70%, quality 70": (lambda img: _resize(_crop(img, 0.94), 0.7), 70),
    "colour-edited, quality 95": (_warmer, 95),
}


def _part(box: tuple[float, float, float, float]) -> Callable[[Image.Image], Image.Image]:
    return lambda img: img.crop((int(box[0] * img.width), int(box[1] * img.height),
                                 int(box[2] * img.width), int(box[3] * img.height)))


# Parts of a picture: other pictures that share its content (hard negatives).
PARTS = {
    "quarter (top left)": _part((0, 0, 0.6, 0.6)),
    "quarter (bottom right)": _part((0.4, 0.4, 1, 1)),
    "half (left)": _part((0, 0, 0.5, 1)),
    "half (top)": _part((0, 0, 1, 0.5)),
}


def _turned(method: Image.Transpose) -> tuple[Callable[[Image.Image], Image.Image], int]:
    return (lambda img: img.transpose(method)), COPY_QUALITY


# The copies an embedding averaged over views must also keep (--invariance), per invariance.
MIRROR_EDITS = {"mirrored": _turned(Image.Transpose.FLIP_LEFT_RIGHT)}
DIHEDRAL_EDITS = {
    **MIRROR_EDITS,
    "flipped upside down": _turned(Image.Transpose.FLIP_TOP_BOTTOM),
    "rotated 90 degrees": _turned(Image.Transpose.ROTATE_90),
    "rotated 180 degrees": _turned(Image.Transpose.ROTATE_180),
    "rotated 270 degrees": _turned(Image.Transpose.ROTATE_270),
    "transposed": _turned(Image.Transpose.TRANSPOSE),
}
TURNED_EDITS = {"none": {}, "mirror": MIRROR_EDITS, "dihedral": DIHEDRAL_EDITS}


def edits_for(invariance: str) -> dict:
    """Return the edits a model of this invariance is calibrated on: EDITS and its turns."""
    return {**EDITS, **TURNED_EDITS[invariance]}


def synthetic_pictures(count: int = CALIBRATION_PICTURES,
                       seed: int = CALIBRATION_SEED) -> list[Image.Image]:
    """Return `count` distinct drawn pictures (the demo collection's kind of originals)."""
    rng = random.Random(seed)
    return [base_picture(rng) for _ in range(count)]


def calibration_pictures() -> list[Image.Image]:
    """Return the default calibration set: drawn pictures and CALIBRATION_PHOTOS."""
    return synthetic_pictures() + list(photographs(CALIBRATION_PHOTOS).values())


def _jpeg(img: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def calibration_crops(pictures: list[Image.Image], preprocessing: Preprocessing,
                      copies: dict = EDITS, parts: dict = PARTS):
    """Return (uint8 crops, picture number of each, what each is, pixel signatures).

    What each is: "original", a copies key, or "part: " and a parts key.
    """
    crops, owners, kinds, signatures = [], [], [], []
    for number, picture in enumerate(pictures):
        picture = picture.convert("RGB")
        made = [("original", picture, ORIGINAL_QUALITY)]
        made += [(name, change(picture), quality) for name, (change, quality) in copies.items()]
        made += [(f"part: {name}", cut(picture), ORIGINAL_QUALITY)
                 for name, cut in parts.items()]
        for kind, img, quality in made:
            data = _jpeg(img, quality)
            crops.append(preprocessing.model_input(io.BytesIO(data)).pixels)
            with Image.open(io.BytesIO(data)) as decoded:
                signatures.append(signature(decoded))
            owners.append(number)
            kinds.append(kind)
    return np.stack(crops), np.array(owners), kinds, np.stack(signatures)


def choose_threshold(near: np.ndarray, distinct: np.ndarray) -> float:
    """Return the score from which a pair is called a near-duplicate.

    Where the two sets separate, the middle of the gap (a margin on both sides). Where they
    overlap (random weights do: every image looks alike to them), just above the highest
    distinct pair, so no pair of different pictures of the calibration set is called a
    near-duplicate: a wrong "near-duplicate" misleads more than a missed one.
    """
    highest_distinct = float(distinct.max())
    lowest_near = float(np.quantile(near, 0.01))
    if lowest_near > highest_distinct:
        return round((highest_distinct + lowest_near) / 2, 6)
    return round(highest_distinct + 1e-6, 6)


def calibrate_vectors(vectors: np.ndarray, owners: np.ndarray, kinds: list[str],
                      signatures: np.ndarray | None = None, invariance: str = "none") -> dict:
    """Return the threshold, what it was chosen from, and how many pairs of each kind the
    whole copy rule calls duplicates (where `signatures` are given)."""
    scores = vectors @ vectors.T
    kinds = np.array(kinds)
    original_of = {owners[i]: i for i in np.flatnonzero(kinds == "original")}
    names = [k for k in dict.fromkeys(kinds) if k != "original"]  # in order, once each
    pairs = {name: [(i, original_of[owners[i]]) for i in np.flatnonzero(kinds == name)]
             for name in names}
    copies = {n: p for n, p in pairs.items() if not n.startswith("part: ")}
    # Different pictures: their originals and copies. Parts are left out: parts of two drawn
    # pictures can be the same plain gradient, which is no question of copies.
    whole = ~np.char.startswith(kinds.astype(str), "part: ")
    different = np.argwhere(np.triu((owners[:, None] != owners[None, :])
                                    & whole[:, None] & whole[None, :], 1))
    distinct = scores[different[:, 0], different[:, 1]]
    threshold = choose_threshold(
        np.concatenate([[scores[i, j] for i, j in p] for p in copies.values()]), distinct)

    def called(index_pairs) -> int | None:
        if signatures is None:
            return None
        return int(sum(scores[i, j] >= threshold and pixel_similarity(
            signatures[i], signatures[j], invariance) >= PIXEL_THRESHOLD
            for i, j in index_pairs))

    def facts(index_pairs) -> dict:
        values = np.array([scores[i, j] for i, j in index_pairs])
        return {"pairs": len(values), "min": float(values.min()), "max": float(values.max()),
                "median": float(np.median(values)),
                "recall": float((values >= threshold).mean()), "called": called(index_pairs)}

    return {
        "version": VERSION,
        "threshold": threshold,
        "pixel_threshold": PIXEL_THRESHOLD,
        "method": "near: (original, copy) pairs per edit; distinct: pairs of different "
                  "pictures; middle of the gap if they separate, else just above the "
                  "highest distinct pair. Called a duplicate: a cosine at the threshold "
                  "and the same pixels",
        "pictures": int(len(original_of)),
        "edits": {name: facts(p) for name, p in copies.items()},
        "parts": {name.removeprefix("part: "): facts(p)
                  for name, p in pairs.items() if name.startswith("part: ")},
        "distinct": {"pairs": int(distinct.size), "max": float(distinct.max()),
                     "p99": float(np.quantile(distinct, 0.99)),
                     "median": float(np.median(distinct)),
                     "called": called(different[distinct >= threshold])},
    }


def calibrate(embedder, pictures: list[Image.Image] | None = None, batch_size: int = 32) -> dict:
    """Embed the calibration set with the job's embedder and return calibrate_vectors().

    An embedder averaged over flips and turns (its `invariance`) is calibrated with those
    copies too: they are near-duplicates that its threshold must keep.
    """
    crops, owners, kinds, signatures = calibration_crops(
        pictures or calibration_pictures(), embedder.preprocessing,
        edits_for(embedder.invariance))
    vectors = np.concatenate([embedder.embed(crops[i:i + batch_size])
                              for i in range(0, len(crops), batch_size)])
    return calibrate_vectors(vectors, owners, kinds, signatures, embedder.invariance)
