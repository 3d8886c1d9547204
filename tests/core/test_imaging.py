"""Decoding every image mode to RGB, EXIF orientation, draft decoding, the model's crop."""
import io

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

from core.imaging import center_crop, open_rgb, save_thumbnail, thumbnail_name


def encoded(img: Image.Image, fmt: str, **params) -> io.BytesIO:
    buffer = io.BytesIO()
    img.save(buffer, fmt, **params)
    buffer.seek(0)
    return buffer


def test_rgba_transparency_becomes_white():
    img = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    img.putpixel((0, 0), (255, 0, 0, 255))
    rgb = open_rgb(encoded(img, "PNG"), 1).rgb
    assert rgb.mode == "RGB"
    assert rgb.getpixel((1, 1)) == (255, 255, 255) and rgb.getpixel((0, 0)) == (255, 0, 0)


def test_palette_with_transparency_becomes_white():
    img = Image.new("P", (4, 4), 1)
    img.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    rgb = open_rgb(encoded(img, "PNG", transparency=1), 1).rgb
    assert rgb.getpixel((2, 2)) == (255, 255, 255)


@pytest.mark.parametrize("mode,value,fmt", [("L", 128, "PNG"), ("1", 1, "PNG"),
                                            ("LA", (90, 255), "PNG"), ("P", 3, "GIF"),
                                            ("CMYK", (0, 255, 255, 0), "JPEG"),
                                            ("RGB", (1, 2, 3), "BMP"), ("RGB", (9, 8, 7), "TIFF"),
                                            ("RGB", (10, 200, 30), "WEBP")])
def test_every_mode_decodes_to_rgb(mode, value, fmt):
    params = {"lossless": True} if fmt == "WEBP" else {}
    rgb = open_rgb(encoded(Image.new(mode, (6, 5), value), fmt, **params), 64).rgb
    assert rgb.mode == "RGB" and rgb.size == (6, 5)
    if mode == "CMYK":
        r, g, b = rgb.getpixel((3, 3))
        assert r > 200 and g < 60 and b < 60  # cyan/magenta-free, yellow+magenta -> red
    if mode == "RGB" and fmt != "JPEG":
        assert rgb.getpixel((3, 3)) == value


def test_sixteen_bit_is_scaled_not_clipped():
    img = Image.fromarray(np.full((4, 4), 32768, dtype=np.uint16))  # mid grey in 16 bits
    rgb = open_rgb(encoded(img, "PNG"), 1).rgb
    assert rgb.getpixel((0, 0)) == (127, 127, 127)


def test_exif_orientation_is_applied_and_size_reported_upright():
    img = Image.new("RGB", (40, 20), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, 10, 20))  # red on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display turns it 90 degrees clockwise
    decoded = open_rgb(encoded(img, "JPEG", exif=exif, quality=95), 64)
    assert (decoded.width, decoded.height) == (20, 40) == decoded.rgb.size
    r, g, b = decoded.rgb.getpixel((10, 2))  # the red strip is now on top
    assert r > 200 and b < 60


def test_animated_gif_gives_its_first_frame():
    frames = [Image.new("P", (8, 8), i) for i in (1, 2)]
    for frame in frames:
        frame.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    buffer.seek(0)
    assert open_rgb(buffer, 1).rgb.getpixel((0, 0)) == (255, 0, 0)


def test_large_jpeg_is_decoded_reduced_but_never_below_the_asked_size():
    decoded = open_rgb(encoded(Image.new("RGB", (4000, 3000), (9, 9, 9)), "JPEG"), 320)
    assert (decoded.width, decoded.height) == (4000, 3000)
    assert decoded.rgb.size == (500, 375)  # 1/8 scale: still >= 320 on both sides


@pytest.mark.parametrize("data,error", [(b"", UnidentifiedImageError),
                                        (b"<html>not an image</html>", UnidentifiedImageError)])
def test_non_images_raise(data, error):
    with pytest.raises(error):
        open_rgb(io.BytesIO(data), 1)


def test_truncated_jpeg_raises_oserror():
    data = encoded(Image.effect_noise((200, 200), 64).convert("RGB"), "JPEG").getvalue()
    with pytest.raises(OSError):
        open_rgb(io.BytesIO(data[: len(data) // 2]), 1)


def test_decompression_bomb_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    with pytest.raises(Image.DecompressionBombError):
        open_rgb(encoded(Image.new("L", (100, 100)), "PNG"), 1)


@pytest.mark.parametrize("size", [(640, 480), (1, 1), (1, 5000), (5000, 3)])
def test_center_crop_is_the_models_input(size):
    pixels = center_crop(Image.new("RGB", size, (10, 20, 30)), 256, 224)
    assert pixels.shape == (224, 224, 3) and pixels.dtype == np.uint8
    assert tuple(pixels[100, 100]) == (10, 20, 30)


def test_center_crop_agrees_with_torchvision_resize_and_crop():
    from torchvision import transforms
    img = Image.effect_mandelbrot((500, 300), (-2, -1, 1, 1), 60).convert("RGB")
    ours = center_crop(img, 256, 224).astype(np.float64)
    theirs = np.asarray(transforms.Compose([transforms.Resize(256),
                                            transforms.CenterCrop(224)])(img), np.float64)
    # Only the cropped box is resampled, so pixels on sharp edges differ a little; the
    # geometry (scale and offset) must be the same: most pixels equal, no shift fits better.
    diff = np.abs(ours - theirs)[:, 2:-2]
    assert np.median(diff) <= 1
    for shift in (-1, 1):
        assert np.abs(np.roll(ours, shift, axis=1) - theirs)[:, 2:-2].mean() > diff.mean()


def test_thumbnail_is_content_addressed_and_bounded(tmp_path):
    save_thumbnail(Image.new("RGB", (1000, 500), (5, 5, 5)), str(tmp_path), "ab" + "0" * 30)
    path = tmp_path / thumbnail_name("ab" + "0" * 30)
    assert path.parent.name == "ab"
    with Image.open(path) as thumb:
        assert thumb.size == (320, 160) and thumb.format == "JPEG"
    assert list(tmp_path.rglob("*.tmp")) == []


def whole_rgb(img: Image.Image) -> np.ndarray:
    """The conversion of earlier versions, on the whole image at once (float64 copies)."""
    if img.mode == "I;16":
        img = Image.fromarray(np.clip(np.asarray(img, np.float64) / 257.0, 0, 255)
                              .astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA"):
        white = Image.new("RGBA", img.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, img.convert("RGBA"))
    return np.asarray(img.convert("RGB"))


def gradient(mode: str, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(0)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16))
    return Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")


@pytest.mark.parametrize("mode", ["I;16", "RGBA"])
def test_stripes_give_the_pixels_of_a_whole_image_conversion(mode):
    """3 megapixels: converted in stripes, not reduced, every pixel as before."""
    img = gradient(mode, 2500, 1200)
    rgb = open_rgb(encoded(img, "PNG"), 320).rgb
    assert rgb.size == (2500, 1200)
    assert np.array_equal(np.asarray(rgb), whole_rgb(img))


@pytest.mark.parametrize("mode", ["I;16", "RGBA"])
def test_a_huge_image_is_box_reduced_while_converted(mode):
    """Past 16 megapixels: reduced by an integer factor to at least twice the decode size,
    the same pixels as the whole conversion reduced."""
    img = gradient(mode, 5000, 3400)
    rgb = open_rgb(encoded(img, "PNG", compress_level=1), 320).rgb
    factor = 3400 // 640
    assert rgb.size == (-(-5000 // factor), -(-3400 // factor)) and min(rgb.size) >= 640
    expected = Image.fromarray(whole_rgb(img)).reduce(factor)
    assert np.array_equal(np.asarray(rgb), np.asarray(expected))


@pytest.mark.parametrize("mode,suffix", [("RGB", "ppm"), ("L", "pgm"), ("1", "pbm")])
def test_netpbm_files_decode(tmp_path, mode, suffix):
    path = tmp_path / f"x.{suffix}"
    Image.new(mode, (7, 5), 1 if mode == "1" else 200).save(path)
    rgb = open_rgb(path, 64).rgb
    assert rgb.mode == "RGB" and rgb.size == (7, 5)


@pytest.mark.parametrize("fmt", ["ICO", "PCX", "TGA", "SGI"])
def test_formats_the_site_does_not_claim_are_not_decoded(fmt):
    """Pillow reads these; only the claimed formats' plugins are tried (EPS never runs
    Ghostscript)."""
    with pytest.raises(UnidentifiedImageError):
        open_rgb(encoded(Image.new("RGB", (16, 16), (1, 2, 3)), fmt), 1)


def test_an_eps_file_is_not_handed_to_ghostscript():
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\nshowpage\n%%EOF\n"
    with pytest.raises(UnidentifiedImageError):
        open_rgb(io.BytesIO(eps), 1)
