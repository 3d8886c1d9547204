"""Pictures the job makes for itself: drawn ones, and the photographs the wheels ship.

The demo collection and the near-duplicate calibration use them.
"""
import random

from PIL import Image, ImageDraw, ImageOps

SIZE = (640, 480)


def base_picture(rng: random.Random) -> Image.Image:
    """Draw one group's original: a two-colour gradient with shapes and a texture."""
    top, bottom = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    img = Image.linear_gradient("L").resize(SIZE)
    img = ImageOps.colorize(img, top, bottom)
    draw = ImageDraw.Draw(img)
    palette = [tuple(rng.randrange(256) for _ in range(3)) for _ in range(3)]
    texture = rng.choice(["stripes", "checks", "none"])
    if texture == "stripes":
        step = rng.randrange(12, 40)
        for x in range(-SIZE[1], SIZE[0], step * 2):
            draw.line([(x, 0), (x + SIZE[1], SIZE[1])], fill=palette[0], width=step // 2)
    elif texture == "checks":
        step = rng.randrange(30, 80)
        for y in range(0, SIZE[1], step):
            for x in range((y // step) % 2 * step, SIZE[0], step * 2):
                draw.rectangle([x, y, x + step - 1, y + step - 1], fill=palette[0])
    for _ in range(rng.randrange(3, 8)):
        x, y = rng.randrange(SIZE[0]), rng.randrange(SIZE[1])
        r = rng.randrange(20, 120)
        shape = rng.choice([draw.ellipse, draw.rectangle])
        shape([x - r, y - r, x + r, y + r], fill=rng.choice(palette[1:]),
              outline=(0, 0, 0), width=3)
    return img


SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field",
                  "retina", "immunohistochemistry", "camera", "coins", "moon", "grass",
                  "gravel", "brick", "cell")
SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")


def photographs(names=None) -> dict[str, Image.Image]:
    """Return {name: RGB photograph} of the photographs scikit-image and scikit-learn ship
    (or of those among `names`): real photographs, offline."""
    # Imported here: the job's requirements have them, the web's not.
    import numpy as np
    from skimage import data
    from sklearn.datasets import load_sample_image
    loaders = {name: (lambda name=name: getattr(data, name)()) for name in SKIMAGE_PHOTOS}
    loaders["motorcycle"] = lambda: data.stereo_motorcycle()[0]  # a stereo pair's left view
    loaders.update({name.split(".")[0]: (lambda name=name: load_sample_image(name))
                    for name in SKLEARN_PHOTOS})
    return {name: Image.fromarray(np.asarray(load())).convert("RGB")
            for name, load in loaders.items() if names is None or name in names}
