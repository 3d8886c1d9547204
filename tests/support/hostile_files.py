"""Build a folder of hostile and awkward files, and say which ones must be indexed."""
import io
import os
import random

from PIL import Image

HTML_NAME = "<img src=x onerror=alert(1)>.png"


def picture(seed: int, size=(120, 90), mode="RGB") -> Image.Image:
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    img.paste(tuple(rng.randrange(256) for _ in range(3)), (5, 5, size[0] // 2, size[1] // 2))
    return img.convert(mode)


def jpeg_bytes(img: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", **params)
    return buffer.getvalue()


def make_hostile_folder(root) -> tuple[set, set]:
    """Write the files; return (paths that must be indexed, paths that must be skipped)."""
    good, bad = set(), set()

    def write(rel: str, data: bytes, ok: bool):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data)
        (good if ok else bad).add(rel)

    def save(rel: str, img: Image.Image, fmt: str, ok=True, **params):
        buffer = io.BytesIO()
        img.save(buffer, fmt, **params)
        write(rel, buffer.getvalue(), ok)

    write("empty.jpg", b"", False)
    write("deep/a/b/c/truncated.jpg", jpeg_bytes(picture(1, (400, 300)))[:700], False)
    write("text.jpg", b"just some text, not a picture\n", False)
    write("page.png", b"<!doctype html><html><body>hello</body></html>", False)
    write("random.webp", random.Random(2).randbytes(5000), False)
    # 30000 x 30000 pixels in a few kB: Pillow refuses it at open, before any decoding.
    save("bomb.png", Image.new("1", (30000, 30000)), "PNG", ok=False)
    save("huge-but-allowed.png", Image.new("L", (12000, 600), 90), "PNG")
    save("cmyk.jpg", picture(3, mode="CMYK"), "JPEG")
    save("sixteen-bit.png", Image.new("I;16", (64, 48), 40000), "PNG")
    palette = picture(4).convert("P")
    save("palette-transparent.png", palette, "PNG", transparency=0)
    save("rgba.png", picture(5, mode="RGBA"), "PNG")
    frames = [picture(6), picture(7)]
    save("animated.gif", frames[0], "GIF", save_all=True, append_images=frames[1:])
    save("animated.webp", frames[0], "WEBP", save_all=True, append_images=frames[1:])
    exif = Image.Exif()
    exif[0x0112] = 6
    write("rotated.jpg", jpeg_bytes(picture(8, (160, 90)), exif=exif), True)
    save("one-pixel.png", Image.new("RGB", (1, 1), (9, 9, 9)), "PNG")
    save("strip.png", picture(9, (4000, 2)), "PNG")
    save("really-a-png.jpg", picture(10), "PNG")
    save("unicode/été-中文-ñ.jpg", picture(11), "JPEG")
    save(HTML_NAME, picture(12), "PNG")
    os.makedirs(os.path.join(root, "folder.jpg"), exist_ok=True)  # a directory named like one
    save("folder.jpg/inside.jpg", picture(13), "JPEG")
    os.symlink(root, os.path.join(root, "deep", "loop"))  # a symlink loop
    return good, bad
