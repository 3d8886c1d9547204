"""Decode any image file to RGB and cut the model's input from it, without torch.

The offline job and the web's search by upload both call these functions, so an image is
preprocessed the same way wherever it is embedded.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .atomic import write_atomically

# Pillow's own decompression-bomb limit (Image.MAX_IMAGE_PIXELS) is kept as it is: files over
# twice the limit raise DecompressionBombError at open, before any pixel is decoded.

# The formats decoded, uploads and the job alike: what the site claims to read. Pillow would
# otherwise try some 40 plugins, EPS among them (which runs Ghostscript). PPM is also PGM,
# PBM (and PFM).
FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "PPM")
THUMBNAIL_SIZE = 320
THUMBNAIL_QUALITY = 85
SIXTEEN_BIT_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
EXIF_ORIENTATION = 0x0112
# How EXIF orientations 2-8 are undone (what ImageOps.exif_transpose does, applied here to
# the small converted image rather than as a full-size copy of the decoded one).
UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
           4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
           6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
           8: Image.Transpose.ROTATE_90}
# Past this many decoded pixels an image is box-reduced by an integer factor (to at least
# REDUCING_GAP times the decode size, as Pillow's thumbnail does) while it is converted, so
# neither the conversion nor its RGB result costs a full-size copy. At or below it the
# pixels are exactly those of earlier versions: the embeddings stored for ordinary files
# stay valid. JPEGs are scaled in the decoder already (draft), so this is for the others.
REDUCE_ABOVE_PIXELS = 16_000_000
REDUCING_GAP = 2
# Pixels converted at a time: the float (16-bit) and RGBA (transparency) temporaries of a
# conversion cost a few MB, whatever the size of the image.
STRIPE_PIXELS = 1 << 20


@dataclass
class DecodedImage:
    rgb: Image.Image  # possibly reduced (JPEG draft, box reduction), never below the size asked
    width: int        # of the original file, after EXIF orientation
    height: int


def open_rgb(source, min_size: int, max_pixels: int | None = None) -> DecodedImage:
    """Decode `source` (a path or file object) to RGB, upright, at least `min_size` px a side.

    Raises OSError (or a subclass such as PIL.UnidentifiedImageError) for files Pillow
    cannot read, and Image.DecompressionBombError for files too large to decode safely:
    over twice Pillow's limit at open, over `max_pixels` (when given) before decoding.
    """
    with Image.open(source, formats=FORMATS) as img:
        width, height = img.size
        if max_pixels and width * height > max_pixels:
            raise Image.DecompressionBombError(
                f"{width} x {height} pixels is more than the {max_pixels} allowed")
        orientation = img.getexif().get(EXIF_ORIENTATION)
        if orientation in (5, 6, 7, 8):
            width, height = height, width
        # JPEG only: decode at 1/2, 1/4 or 1/8 scale when that still leaves min_size pixels;
        # it is several times faster for camera-sized photos.
        img.draft("RGB", (min_size, min_size))
        img.load()
        rgb = to_rgb(img, reduction(img.size, min_size))
        return DecodedImage(upright(rgb, orientation), width, height)


def reduction(size: tuple[int, int], min_size: int) -> int:
    """Return the integer factor a decoded image of `size` is box-reduced by (1: none)."""
    width, height = size
    if width * height <= REDUCE_ABOVE_PIXELS:
        return 1
    return max(1, min(width, height) // (REDUCING_GAP * min_size))


def upright(rgb: Image.Image, orientation: int | None) -> Image.Image:
    """Undo the EXIF orientation of an image converted from the file."""
    method = UPRIGHT.get(orientation)
    return rgb.transpose(method) if method is not None else rgb


def to_rgb(img: Image.Image, factor: int = 1) -> Image.Image:
    """Convert any Pillow mode to RGB, box-reduced by `factor`: a stripe at a time, so that
    no conversion makes a full-size float or RGBA copy."""
    if img.mode == "RGB":
        return img.reduce(factor) if factor > 1 else img
    scale = sixteen_bit_values(img)
    width, height = img.size
    rows = factor * max(1, STRIPE_PIXELS // (width * factor))  # whole boxes per stripe
    if rows >= height:
        return stripe_rgb(img, scale, factor)
    out = Image.new("RGB", (-(-width // factor), -(-height // factor)))
    for top in range(0, height, rows):
        stripe = img.crop((0, top, width, min(top + rows, height)))
        out.paste(stripe_rgb(stripe, scale, factor), (0, top // factor))
    return out


def sixteen_bit_values(img: Image.Image) -> bool:
    """Return whether the image's values are 16-bit (scaled to 8 bits rather than clipped)."""
    if img.mode in SIXTEEN_BIT_MODES:
        return True
    return img.mode in ("I", "F") and img.getextrema()[1] > 255


def stripe_rgb(img: Image.Image, scale: bool, factor: int) -> Image.Image:
    """Convert (part of) an image to RGB: alpha over white, 16-bit values scaled if `scale`."""
    if img.mode in SIXTEEN_BIT_MODES or img.mode in ("I", "F"):
        values = np.asarray(img, dtype=np.float64)
        if scale:
            values = values / 257.0
        img = Image.fromarray(np.clip(values, 0, 255).astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in img.info:
        rgba = img.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    rgb = img.convert("RGB")
    return rgb.reduce(factor) if factor > 1 else rgb


RESAMPLING = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}


@dataclass(frozen=True)
class Preprocessing:
    """How a model's input is cut from a file: what its weights were trained with.

    The same values drive the job's decode and the web's search by upload, and they are
    part of the model key (two preprocessings give two sets of embeddings, never mixed).
    """

    resize: int                       # the shorter side, before the centre crop
    crop: int                         # the square the model sees
    mean: tuple[float, float, float]  # per channel, on 0..1 pixels
    std: tuple[float, float, float]
    interpolation: str = "bilinear"   # a key of RESAMPLING

    @property
    def decode_size(self) -> int:
        """The smallest side a file is decoded at: the thumbnail comes from the same decode,
        and JPEG draft decoding at this size decides the pixels the crop is cut from."""
        return max(self.resize, THUMBNAIL_SIZE)

    def as_dict(self) -> dict:
        return {"resize": self.resize, "crop": self.crop, "mean": list(self.mean),
                "std": list(self.std), "interpolation": self.interpolation,
                "decode_size": self.decode_size}

    @classmethod
    def from_dict(cls, values: dict) -> Preprocessing:
        return cls(values["resize"], values["crop"], tuple(values["mean"]),
                   tuple(values["std"]), values.get("interpolation", "bilinear"))

    def key(self) -> str:
        """Return a short name of everything that changes the pixels the model sees."""
        text = json.dumps(self.as_dict(), sort_keys=True).encode()
        return "pre-" + hashlib.sha256(text).hexdigest()[:8]

    def model_input(self, source, max_pixels: int | None = None) -> DecodedInput:
        """Decode a file (path or file object) and cut the model's input from it."""
        decoded = open_rgb(source, self.decode_size, max_pixels)
        return DecodedInput(decoded, self.cut(decoded.rgb))

    def cut(self, rgb: Image.Image) -> np.ndarray:
        return center_crop(rgb, self.resize, self.crop, self.interpolation)


@dataclass
class DecodedInput:
    decoded: DecodedImage  # for the thumbnail and the original's size
    pixels: np.ndarray     # uint8 crop x crop x 3


def center_crop(rgb: Image.Image, resize: int, crop: int,
                interpolation: str = "bilinear") -> np.ndarray:
    """Return the model input as uint8 HxWx3: shorter side to `resize`, centre `crop` square.

    The same geometry as torchvision's Resize(resize) + CenterCrop(crop), but only the
    cropped box is resampled, so a 1 x 10000 strip costs no more memory than a square.
    """
    w, h = rgb.size
    scale = resize / min(w, h)
    resized_w = resize if w <= h else int(resize * w / h)
    resized_h = resize if h <= w else int(resize * h / w)
    left = int(round((resized_w - crop) / 2.0))
    top = int(round((resized_h - crop) / 2.0))
    box = (left / scale, top / scale, (left + crop) / scale, (top + crop) / scale)
    out = rgb.resize((crop, crop), RESAMPLING[interpolation], box=box)
    return np.asarray(out, dtype=np.uint8)


def thumbnail_name(content_hash: str) -> str:
    """Return a thumbnail's path under the thumbnail folder: content-addressed, so immutable."""
    return f"{content_hash[:2]}/{content_hash}.jpg"


def thumbnail_jpeg(rgb: Image.Image) -> bytes:
    """Return the JPEG bytes of an image's thumbnail, at most THUMBNAIL_SIZE a side."""
    thumb = rgb.copy()
    # Bilinear after a box reduction (reducing_gap) looks the same at 320 px as Lanczos and
    # costs half; the job makes one per image.
    thumb.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BILINEAR,
                    reducing_gap=2.0)
    out = io.BytesIO()
    thumb.save(out, "JPEG", quality=THUMBNAIL_QUALITY)
    return out.getvalue()


def save_thumbnail(rgb: Image.Image, folder: str, content_hash: str) -> None:
    """Write the thumbnail for `content_hash` unless it exists; never leave a partial file."""
    dest = os.path.join(folder, thumbnail_name(content_hash))
    if os.path.exists(dest):
        return
    write_atomically(dest, thumbnail_jpeg(rgb))
