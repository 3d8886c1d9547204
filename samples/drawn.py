"""Make a demo collection: groups of transformed copies of procedurally drawn pictures.

Each group starts from one picture (a gradient sky, shapes in a palette of its own, stripes
or checks); its members are that picture cropped, flipped, rotated a little, brightened or
darkened, resized and re-encoded. A correct pipeline ranks an image's group mates first,
which makes the demo easy to judge by eye and the tests able to measure it.

    python -m samples.drawn DEST [--groups 30] [--per-group 10] [--seed 0]
"""
import argparse
import os
import random

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

from .pictures import base_picture


def variant(img: Image.Image, rng: random.Random) -> Image.Image:
    """Return a transformed copy: crop, maybe flip, small rotation, brightness, scale."""
    w, h = img.size
    keep = rng.uniform(0.75, 0.95)
    cw, ch = int(w * keep), int(h * keep)
    x, y = rng.randrange(w - cw + 1), rng.randrange(h - ch + 1)
    out = img.crop((x, y, x + cw, y + ch))
    if rng.random() < 0.5:
        out = ImageOps.mirror(out)
    out = out.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BILINEAR, expand=False,
                     fillcolor=out.getpixel((0, 0)))
    out = ImageEnhance.Brightness(out).enhance(rng.uniform(0.8, 1.2))
    if rng.random() < 0.3:
        out = out.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    scale = rng.uniform(0.5, 1.0)
    return out.resize((max(1, int(out.width * scale)), max(1, int(out.height * scale))))


def make_collection(dest: str, groups: int = 30, per_group: int = 10, seed: int = 0) -> dict:
    """Write groups x per_group JPEGs under dest/group-NN/; return {path: group}."""
    rng = random.Random(seed)
    members = {}
    for g in range(groups):
        folder = os.path.join(dest, f"group-{g:02d}")
        os.makedirs(folder, exist_ok=True)
        original = base_picture(rng)
        for i in range(per_group):
            picture = original if i == 0 else variant(original, rng)
            name = f"group-{g:02d}/picture-{i:02d}.jpg"
            picture.save(os.path.join(dest, name), "JPEG", quality=rng.randrange(70, 95))
            members[name] = g
    return members


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dest")
    parser.add_argument("--groups", type=int, default=30)
    parser.add_argument("--per-group", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    members = make_collection(args.dest, args.groups, args.per_group, args.seed)
    print(f"wrote {len(members)} images in {args.groups} groups to {args.dest}")


if __name__ == "__main__":
    main()
