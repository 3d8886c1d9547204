"""What a file's header says about where it came from: format, JPEG quality, capture time.

The duplicates page uses these to tell an original from its copies (webapp/duplicates/keeper.py): a
re-encoded copy has a lower JPEG quality than its source, a lossless file has lost nothing,
and a camera writes the moment it took the picture into EXIF. Everything is read from the
header alone (Pillow opens lazily), so the job reads it from the first bytes it hashes anyway.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

from PIL import Image

LOSSLESS = {"PNG", "BMP", "TIFF", "PPM", "GIF"}  # formats that keep every decoded pixel
EXIF_IFD = 0x8769
DATE_TIME_ORIGINAL, DATE_TIME = 36867, 306
# The IJG (libjpeg) luminance table at quality 50: every encoder that takes a 1-100 quality
# (libjpeg, Pillow, ImageMagick, most cameras' firmware) scales this table.
IJG_LUMINANCE_SUM = sum((
    16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
    14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
    18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
    49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99))


@dataclass(frozen=True)
class PictureFacts:
    format: str | None = None            # Pillow's name: JPEG, PNG, WEBP...
    jpeg_quality: int | None = None      # estimated 1-100, JPEG only
    captured_at: datetime | None = None  # EXIF DateTimeOriginal (else DateTime)

    @property
    def lossless(self) -> bool:
        return self.format in LOSSLESS


def read_facts(head: bytes) -> PictureFacts:
    """Return the facts in a file's first bytes; empty facts where the header is unreadable.

    Never raises: a file whose header cannot be read here is reported by the decode stage.
    """
    try:
        with Image.open(io.BytesIO(head)) as img:
            quality = jpeg_quality(img.quantization) if img.format == "JPEG" else None
            return PictureFacts(img.format, quality, capture_time(img.getexif()))
    except Exception:  # noqa: BLE001 - any header Pillow cannot parse gives no facts
        return PictureFacts()


def jpeg_quality(tables: dict | None) -> int | None:
    """Estimate the 1-100 quality a JPEG was saved at from its luminance quantisation table.

    An IJG encoder scales the standard table by 5000/q percent below quality 50 and by
    200 - 2q above, so the table's sum against the standard's gives the scale and so q.
    The sum does not depend on the order the table is stored in (zigzag or natural).
    """
    if not tables or 0 not in tables:
        return None
    table = list(tables[0])
    if max(table) <= 1:
        return 100
    scale = 100.0 * sum(table) / IJG_LUMINANCE_SUM
    quality = (200.0 - scale) / 2.0 if scale <= 100 else 5000.0 / scale
    return int(min(100, max(1, round(quality))))


def capture_time(exif: Image.Exif) -> datetime | None:
    """Return when the camera took the picture, from EXIF, or None."""
    value = exif.get_ifd(EXIF_IFD).get(DATE_TIME_ORIGINAL) or exif.get(DATE_TIME)
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip("\x00 ")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:  # "0000:00:00 00:00:00" and other placeholders
        return None
