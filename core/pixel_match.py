"""Whether two pictures are the same picture, from their pixels: the near-duplicate check.

A network's embedding says two images show the same kind of thing; on photographs of
textures (grass, gravel, a starfield) a quarter of the photograph scores as high as its
re-encoded copy (cosine 0.94 against 0.90 with EfficientNet-Lite0). The pixels tell them
apart: a copy (resized, re-encoded, colour-edited, lightly cropped, mirrored) keeps the
layout of the picture, a part of it does not. So a pair is a near-duplicate when its cosine
reaches the calibrated threshold AND its pixels match:

- each image becomes a 16 x 16 grey signature of its whole frame and of its centre cropped
  2%, 4% and 6% a side (a light crop of the other), zero mean and unit length;
- two images match by the best correlation of one's whole frame with the other's frames,
  also mirrored (or in all eight flips and turns for a --invariance dihedral index).

Measured on 17 photographs (scripts/demo_photos.py make_duplicate_set): copies (half size,
quality 55, cropped 4%, colour-shifted) correlate at least 0.990, quarter tiles at most 0.756
with their photograph, different photographs at most 0.55; the threshold sits between.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

SIDE = 16
KEEPS = (1.0, 0.96, 0.92, 0.88)  # the whole frame, then centres cropped 2, 4 and 6% a side
PIXEL_THRESHOLD = 0.9


def signature(img: Image.Image) -> np.ndarray:
    """Return the (len(KEEPS), SIDE, SIDE) float32 signatures of a picture, each unit length."""
    grey = img.convert("L")
    w, h = grey.size
    frames = []
    for keep in KEEPS:
        dx, dy = w * (1 - keep) / 2, h * (1 - keep) / 2
        small = grey.resize((SIDE, SIDE), Image.Resampling.BOX, box=(dx, dy, w - dx, h - dy))
        values = np.asarray(small, dtype=np.float32)
        values = values - values.mean()
        frames.append(values / max(float(np.linalg.norm(values)), 1e-6))
    return np.stack(frames)


def read_signature(source) -> np.ndarray | None:
    """Return the signature of an image file (a path or a file object), None if unreadable:
    the job reads its thumbnails with it, the web the thumbnails of search results."""
    try:
        with Image.open(source) as img:
            return signature(img)
    except OSError:
        return None


def turns_of(invariance: str):
    """Return the flips and turns a copy may have: mirrored always, all eight for dihedral."""
    turns = [lambda a: a, lambda a: a[..., ::-1]]
    if invariance == "dihedral":
        turns += [lambda a, k=k: np.rot90(a, k, axes=(-2, -1)) for k in (1, 2, 3)]
        turns += [lambda a, k=k: np.rot90(a[..., ::-1], k, axes=(-2, -1)) for k in (1, 2, 3)]
    return turns


def pixel_similarity(a: np.ndarray, b: np.ndarray, invariance: str = "none") -> float:
    """Return how well two signatures match: the best correlation of one's whole frame
    with any frame of the other, over the turns a copy may have."""
    best = -1.0
    for turn in turns_of(invariance):
        turned = turn(b)
        best = max(best, float(np.max(np.einsum("kij,ij->k", a, turned[0]))),
                   float(np.max(np.einsum("ij,kij->k", a[0], turned))))
    return best


def same_picture(a: np.ndarray | None, b: np.ndarray | None, invariance: str = "none") -> bool:
    """Return whether two signatures are of one picture; False where one is unknown."""
    if a is None or b is None:
        return False
    return pixel_similarity(a, b, invariance) >= PIXEL_THRESHOLD
