"""Calibrate the near-duplicate threshold of a model on transformed copies vs distinct pictures.

A near-duplicate is the same picture re-encoded, resized or cropped a little. Each picture
of the calibration set is saved as a JPEG "original" and as one copy per edit below; every
file goes through bytes and the job's own decode and crop, as a collection file would. The
scores of (original, copy) pairs are what the threshold must keep; the scores between
different pictures are what it must reject.
"""
from __future__ import annotations

import io
import random
from typing import Callable

import numpy as np
from PIL import Image

from core.imaging import Preprocessing
from samples.pictures import base_picture

CALIBRATION_PICTURES = 16
CALIBRATION_SEED = 20
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


# edit name -> (change to the pixels, JPEG quality of the copy)
EDITS: dict[str, tuple[Callable[[Image.Image], Image.Image], int]] = {
    "re-encoded at quality 60": (lambda img: img, 60),
    "resized to 50%": (lambda img: _resize(img, 0.5), COPY_QUALITY),
    "cropped 5% a side": (lambda img: _crop(img, 0.9), COPY_QUALITY),
    "cropped 3%, resized to 70%, quality 70": (lambda img: _resize(_crop(img, 0.94), 0.7), 70),
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


def _jpeg_crop(img: Image.Image, quality: int, preprocessing: Preprocessing) -> np.ndarray:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return preprocessing.model_input(buffer).pixels


def calibration_crops(pictures: list[Image.Image], preprocessing: Preprocessing,
                      copies: dict = EDITS) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Return (uint8 crops, picture number of each, edit of each: 'original' or a copies key)."""
    crops, owners, edits = [], [], []
    for number, picture in enumerate(pictures):
        picture = picture.convert("RGB")
        crops.append(_jpeg_crop(picture, ORIGINAL_QUALITY, preprocessing))
        owners.append(number)
        edits.append("original")
        for name, (change, quality) in copies.items():
            crops.append(_jpeg_crop(change(picture), quality, preprocessing))
            owners.append(number)
            edits.append(name)
    return np.stack(crops), np.array(owners), edits


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


def calibrate_vectors(vectors: np.ndarray, owners: np.ndarray, edits: list[str]) -> dict:
    """Return the threshold and what it was chosen from, given each crop's unit vector."""
    scores = vectors @ vectors.T
    edits = np.array(edits)
    originals = np.flatnonzero(edits == "original")
    original_of = {owners[i]: i for i in originals}
    names = dict.fromkeys(e for e in edits if e != "original")  # in order, once each
    near = {name: np.array([scores[i, original_of[owners[i]]]
                            for i in np.flatnonzero(edits == name)]) for name in names}
    different = owners[:, None] != owners[None, :]
    distinct = scores[np.triu(different, 1)]
    threshold = choose_threshold(np.concatenate(list(near.values())), distinct)
    return {
        "threshold": threshold,
        "method": "near: (original, copy) pairs per edit; distinct: pairs of different "
                  "pictures; middle of the gap if they separate, else just above the "
                  "highest distinct pair",
        "pictures": int(len(originals)),
        "edits": {name: {"min": float(v.min()), "median": float(np.median(v)),
                         "recall": float((v >= threshold).mean())} for name, v in near.items()},
        "distinct": {"pairs": int(distinct.size), "max": float(distinct.max()),
                     "p99": float(np.quantile(distinct, 0.99)),
                     "median": float(np.median(distinct))},
    }


def calibrate(embedder, pictures: list[Image.Image] | None = None, batch_size: int = 32) -> dict:
    """Embed the calibration set with the job's embedder and return calibrate_vectors().

    An embedder averaged over flips and turns (its `invariance`) is calibrated with those
    copies too: they are near-duplicates that its threshold must keep.
    """
    crops, owners, edits = calibration_crops(pictures or synthetic_pictures(),
                                             embedder.preprocessing,
                                             edits_for(embedder.invariance))
    vectors = np.concatenate([embedder.embed(crops[i:i + batch_size])
                              for i in range(0, len(crops), batch_size)])
    return calibrate_vectors(vectors, owners, edits)
