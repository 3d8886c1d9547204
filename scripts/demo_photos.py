#!/usr/bin/env python
"""Make collections of real photographs, offline: the ones scikit-image and scikit-learn ship.

Three kinds, from the same 17 photographs (a cat, a cup of coffee, a rocket, an astronaut, a
temple, a flower, galaxies, a motorbike, coins, the moon, textures, microscopy...):

- the demo (`make_demo_collection`): each photograph with four edited copies (a crop, a
  mirror image, a colour shift, a small re-encode), plus four tiles cut from each, so that a
  gallery page looks like a photo library and every image page has real look-alikes;
- photo families (`make_families`): each photograph and nine edits of it in a folder of its
  own, for measuring same-family precision (at most 0.9 at k = 10: nine other members);
- a held-back set (`make_held_back_families`): 108 families of 10 (1080 images) from the nine
  photographs the tier calibration never sees, each family a cell of a 4 x 3 grid cut from
  one of them (so families of one photograph look alike: a hard set) with nine edits;
- a duplicates set (`make_duplicate_set`): each photograph as a camera original (with a
  capture time), four copies (half size, quality 55, cropped 4%, colour-shifted at 98) and
  four quarter tiles (other pictures), for measuring duplicate groups and keepers.

- families of your own pictures (`make_families_from`, `--held-back-from DIR`): each
  picture of DIR and the held-back set's nine edits of it, a folder each.

    python scripts/demo_photos.py DEST [--families | --held-back | --duplicates]
    python scripts/demo_photos.py DEST --held-back-from DIR [--min-colours N] [--limit N]
"""
from __future__ import annotations

import argparse
import os
import random
import sys

import numpy as np
from PIL import Image, ImageEnhance, ImageFilter, ImageOps

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from samples.pictures import photographs  # noqa: E402

QUALITY = 90


def crop(img: Image.Image, keep: float, rng: random.Random) -> Image.Image:
    """Return a crop that keeps `keep` of each side, at a random position."""
    w, h = img.size
    cw, ch = int(w * keep), int(h * keep)
    x, y = rng.randrange(w - cw + 1), rng.randrange(h - ch + 1)
    return img.crop((x, y, x + cw, y + ch))


def colour_shift(img: Image.Image, rng: random.Random) -> Image.Image:
    """Return the picture warmer or cooler: one channel scaled up, another down."""
    channels = list(img.split())
    up, down = rng.sample(range(3), 2)
    channels[up] = channels[up].point(lambda v: min(255, int(v * 1.15)))
    channels[down] = channels[down].point(lambda v: int(v * 0.85))
    return Image.merge("RGB", channels)


def resized(img: Image.Image, scale: float) -> Image.Image:
    return img.resize((max(1, int(img.width * scale)), max(1, int(img.height * scale))),
                      Image.Resampling.LANCZOS)


DEMO_EDITS = {
    "crop": lambda img, rng: crop(img, 0.8, rng),
    "mirror": lambda img, rng: ImageOps.mirror(img),
    "warm": colour_shift,
    "small": lambda img, rng: resized(img, 0.5),
}
FAMILY_EDITS = {
    "crop-a": lambda img, rng: crop(img, 0.85, rng),
    "crop-b": lambda img, rng: crop(img, 0.7, rng),
    "mirror": lambda img, rng: ImageOps.mirror(img),
    "rotated": lambda img, rng: img.rotate(rng.uniform(4, 8), Image.Resampling.BILINEAR),
    "brighter": lambda img, rng: ImageEnhance.Brightness(img).enhance(1.25),
    "contrast": lambda img, rng: ImageEnhance.Contrast(img).enhance(0.7),
    "colour": colour_shift,
    "blurred": lambda img, rng: img.filter(ImageFilter.GaussianBlur(1.5)),
    "small": lambda img, rng: resized(img, 0.4),
}

# The seven other flips and quarter turns of a photograph: what --invariance dihedral matches.
TURNED_EDITS = {
    "mirror": lambda img, rng: img.transpose(Image.Transpose.FLIP_LEFT_RIGHT),
    "upside-down": lambda img, rng: img.transpose(Image.Transpose.FLIP_TOP_BOTTOM),
    "rot90": lambda img, rng: img.transpose(Image.Transpose.ROTATE_90),
    "rot180": lambda img, rng: img.transpose(Image.Transpose.ROTATE_180),
    "rot270": lambda img, rng: img.transpose(Image.Transpose.ROTATE_270),
    "transposed": lambda img, rng: img.transpose(Image.Transpose.TRANSPOSE),
    "transversed": lambda img, rng: img.transpose(Image.Transpose.TRANSVERSE),
}


def tiles(img: Image.Image) -> list[Image.Image]:
    """Return the four quarters of a photograph (overlapping by a fifth): other pictures."""
    w, h = img.size
    tw, th = int(w * 0.6), int(h * 0.6)
    return [img.crop((x, y, x + tw, y + th)) for y in (0, h - th) for x in (0, w - tw)]


def write(dest: str, pictures_of) -> dict[str, str]:
    """Write what `pictures_of(name, photo)` gives ({path: picture}) for every photograph.

    Returns {path: the photograph's name}. A path ending in "-small.jpg" is saved at JPEG
    quality 60 (a small re-encoded copy), every other at QUALITY.
    """
    members = {}
    for name, photo in photographs().items():
        for path, picture in pictures_of(name, photo).items():
            os.makedirs(os.path.dirname(os.path.join(dest, path)), exist_ok=True)
            quality = 60 if path.endswith("-small.jpg") else QUALITY
            picture.save(os.path.join(dest, path), "JPEG", quality=quality)
            members[path] = name
    return members


def with_edits(photo: Image.Image, edits: dict, rng: random.Random, original: str,
               edited: str) -> dict[str, Image.Image]:
    """Return {original: photo} and, for each edit, {edited with {edit} filled in: its copy}."""
    pictures = {original: photo}
    pictures.update({edited.format(edit=edit): change(photo, rng)
                     for edit, change in edits.items()})
    return pictures


def make_demo_collection(dest: str, seed: int = 0) -> dict[str, str]:
    """Write the demo under dest/; return {path: the photograph it comes from}."""
    rng = random.Random(seed)
    return write(dest, lambda name, photo: {
        **with_edits(photo, DEMO_EDITS, rng, f"photos/{name}.jpg", f"photos/{name}-{{edit}}.jpg"),
        **{f"tiles/{name}-{i}.jpg": tile for i, tile in enumerate(tiles(photo))}})


def make_families(dest: str, seed: int = 1) -> dict[str, str]:
    """Write one folder per photograph (it and nine edits); return {path: family}."""
    rng = random.Random(seed)
    return write(dest, lambda name, photo: with_edits(
        photo, FAMILY_EDITS, rng, f"{name}/original.jpg", f"{name}/{{edit}}.jpg"))


def make_turned(dest: str, names=None) -> dict[str, str]:
    """Write one folder per photograph (or per one of `names`): it and its seven flips and
    quarter turns. Returns {path: family}."""
    def pictures_of(name, photo):
        if names is not None and name not in names:
            return {}
        return with_edits(photo, TURNED_EDITS, random.Random(0), f"{name}/original.jpg",
                          f"{name}/{{edit}}.jpg")
    return write(dest, pictures_of)


# The photographs the near-duplicate calibration does not use (embedders/calibration.py has
# the other eight): ranking steps are tuned on these, never on the calibration's.
HELD_BACK_PHOTOS = ("astronaut", "chelsea", "coffee", "hubble_deep_field",
                    "immunohistochemistry", "grass", "motorcycle", "china", "flower")
GRID = (4, 3)  # columns, rows: 12 families per photograph
CELL_SCALE = 2  # cells are upscaled to photo-like sizes (about 250-500 px a side)
EXIF_ROTATED = 6  # the stored pixels are turned; the tag says to turn them back upright


def grid_cells(photo: Image.Image) -> list[Image.Image]:
    """Return the cells of a GRID cut from a photograph, each upscaled by CELL_SCALE."""
    columns, rows = GRID
    w, h = photo.width // columns, photo.height // rows
    return [resized(photo.crop((x * w, y * h, (x + 1) * w, (y + 1) * h)), CELL_SCALE)
            for y in range(rows) for x in range(columns)]


def save_exif_rotated(picture: Image.Image, path: str) -> None:
    """Save the picture's pixels turned a quarter, with the EXIF orientation that undoes it,
    as a phone camera does."""
    exif = Image.Exif()
    exif[0x0112] = EXIF_ROTATED
    picture.transpose(Image.Transpose.ROTATE_90).save(path, "JPEG", quality=QUALITY, exif=exif)


HELD_BACK_EDITS = {  # name: (edit, JPEG quality)
    "crop-a": (lambda img, rng: crop(img, 0.85, rng), QUALITY),
    "crop-b": (lambda img, rng: crop(img, 0.65, rng), QUALITY),
    "small": (lambda img, rng: resized(img, 0.5), QUALITY),
    "mirror": (lambda img, rng: ImageOps.mirror(img), QUALITY),
    "colour": (colour_shift, QUALITY),
    "darker": (lambda img, rng: ImageEnhance.Brightness(img).enhance(0.7), QUALITY),
    "blurred": (lambda img, rng: img.filter(ImageFilter.GaussianBlur(2)), QUALITY),
    "q25": (lambda img, rng: img, 25),
}


def make_held_back_families(dest: str, seed: int = 2) -> dict[str, str]:
    """Write one folder per grid cell of each HELD_BACK_PHOTOS photograph: the cell
    (`original.jpg`), its eight edits and an EXIF-rotated copy. Returns {path: family}."""
    return write_families(dest, ((f"{name}-{number:02d}", cell)
                                 for name, photo in photographs(HELD_BACK_PHOTOS).items()
                                 for number, cell in enumerate(grid_cells(photo))), seed)


def write_families(dest: str, pictures, seed: int) -> dict[str, str]:
    """Write a folder per (family, picture): the picture, HELD_BACK_EDITS of it and an
    EXIF-rotated copy. Returns {path: family}."""
    rng = random.Random(seed)
    members = {}
    for family, picture in pictures:
        folder = os.path.join(dest, family)
        os.makedirs(folder, exist_ok=True)
        picture.save(os.path.join(folder, "original.jpg"), "JPEG", quality=QUALITY)
        for edit, (change, quality) in HELD_BACK_EDITS.items():
            change(picture, rng).save(os.path.join(folder, f"{edit}.jpg"), "JPEG",
                                      quality=quality)
        save_exif_rotated(picture, os.path.join(folder, "exif-rotated.jpg"))
        members.update({f"{family}/{edit}.jpg": family for edit in
                        ("original", *HELD_BACK_EDITS, "exif-rotated")})
    return members


def make_families_from(dest: str, source: str, min_colours: int = 0, limit: int = 0,
                       seed: int = 3) -> dict[str, str]:
    """Write a family (as make_held_back_families's) of each picture under `source`; with a
    `limit`, of that many spread evenly over them in path order (every folder has its
    share). Transparent parts are put on white (cut-out photographs); pictures of fewer than
    `min_colours` distinct colours (drawings, letters) are skipped."""
    paths = sorted(os.path.join(folder, name) for folder, _, names in os.walk(source)
                   for name in names)
    pictures = [(path, picture) for path in paths
                if (picture := readable_picture(path)) is not None
                and colours(picture) >= min_colours]
    if 0 < limit < len(pictures):
        pictures = [pictures[i] for i in np.linspace(0, len(pictures) - 1, limit).round()
                    .astype(int)]
    return write_families(dest, ((os.path.splitext(os.path.relpath(path, source))[0]
                                  .replace(os.sep, "-"), picture)
                                 for path, picture in pictures), seed)


def readable_picture(path: str) -> Image.Image | None:
    """Return the picture at `path` in RGB, transparency on white, or None if unreadable."""
    try:
        with Image.open(path) as opened:
            rgba = ImageOps.exif_transpose(opened).convert("RGBA")
    except (OSError, ValueError):
        return None
    return Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")


def colours(picture: Image.Image) -> int:
    """Return how many distinct colours a picture holds, at 6 bits a channel."""
    packed = np.asarray(picture, np.uint32) >> 2
    return len(np.unique((packed[..., 0] << 12) | (packed[..., 1] << 6) | packed[..., 2]))


# A duplicates test set: the copies a real collection holds of a photograph (the original
# is a camera JPEG with its capture time), and the parts of it that are other pictures.
ORIGINAL_QUALITY = 92
COPY_EDITS = {  # name: (edit, JPEG quality it is saved at)
    "small": (lambda img: resized(img, 0.5), 85),
    "q55": (lambda img: img, 55),
    "cropped": (lambda img: img.crop((int(img.width * .04), int(img.height * .04),
                                      img.width - int(img.width * .04),
                                      img.height - int(img.height * .04))), 90),
    "warm": (lambda img: colour_shift(img, random.Random(img.width)), 98),
}


def camera_exif(when: str) -> Image.Exif:
    """Return EXIF with a capture time (DateTimeOriginal), as a camera writes it."""
    exif = Image.Exif()
    exif.get_ifd(0x8769)[36867] = when
    return exif


def make_duplicate_set(dest: str, names=None) -> dict[str, str]:
    """Write, per photograph (or per one of `names`), `name/original.jpg`, its four copies
    (`name/copy-EDIT.jpg`) and its four quarter tiles (`name/tile-N.jpg`: other pictures).

    Returns {path: what it is: "original", "copy" or "tile"}. The originals are written first,
    so their files are also the oldest, as a camera's are.
    """
    kinds = {}
    chosen = photographs(names)
    for number, (name, photo) in enumerate(chosen.items()):
        os.makedirs(os.path.join(dest, name), exist_ok=True)
        photo.save(os.path.join(dest, name, "original.jpg"), "JPEG", quality=ORIGINAL_QUALITY,
                   exif=camera_exif(f"2019:05:{number % 28 + 1:02d} 10:00:00"))
        kinds[f"{name}/original.jpg"] = "original"
    for name, photo in chosen.items():
        for edit, (change, quality) in COPY_EDITS.items():
            change(photo).save(os.path.join(dest, name, f"copy-{edit}.jpg"), "JPEG",
                               quality=quality)
            kinds[f"{name}/copy-{edit}.jpg"] = "copy"
        for i, tile in enumerate(tiles(photo)):
            tile.save(os.path.join(dest, name, f"tile-{i}.jpg"), "JPEG", quality=QUALITY)
            kinds[f"{name}/tile-{i}.jpg"] = "tile"
    return kinds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dest")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--families", action="store_true",
                      help="one folder per photograph and nine edits, for measuring")
    kind.add_argument("--held-back", action="store_true",
                      help="108 families of 10 from the photographs calibration never sees")
    kind.add_argument("--duplicates", action="store_true",
                      help="one folder per photograph: it, four copies and four tiles")
    kind.add_argument("--held-back-from", metavar="DIR",
                      help="a family of 10 (as --held-back's) of each picture in DIR")
    parser.add_argument("--min-colours", type=int, default=0,
                        help="with --held-back-from: skip pictures of fewer distinct colours")
    parser.add_argument("--limit", type=int, default=0,
                        help="with --held-back-from: this many families, spread over DIR")
    args = parser.parse_args()
    if args.held_back_from:
        members = make_families_from(args.dest, args.held_back_from, args.min_colours,
                                     args.limit)
    else:
        make = (make_families if args.families else make_duplicate_set if args.duplicates
                else make_held_back_families if args.held_back else make_demo_collection)
        members = make(args.dest)
    print(f"wrote {len(members)} photographs and copies to {args.dest}")


if __name__ == "__main__":
    main()
