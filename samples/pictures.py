"""Draw distinct synthetic pictures: the demo collection and the tier calibration use them."""
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
