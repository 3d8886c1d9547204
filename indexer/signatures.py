"""The pixel signatures of a build's images, read from the thumbnails the job wrote.

The near-duplicate check (core/pixel_match.py) compares 16 x 16 signatures, which a
320 px thumbnail gives as well as the original: no file of the collection is read again.
Only the images of pairs whose cosine reaches the threshold are read, each once.
"""
from __future__ import annotations

import io

from core import locations
from core.imaging import thumbnail_name
from core.pixel_match import read_signature, same_picture


class ThumbnailSignatures:
    def __init__(self, thumbnail_dir: str, hashes: list[str], invariance: str = "none"):
        self.thumbnail_dir, self.hashes, self.invariance = thumbnail_dir, hashes, invariance
        self.known: dict[str, object] = {}

    def same_pixels(self, a: int, b: int) -> bool:
        """Return whether images a and b (rows) show the same picture by their pixels."""
        return same_picture(self.of(self.hashes[a]), self.of(self.hashes[b]), self.invariance)

    def of(self, content_hash: str):
        """Return a content's signature, None when its thumbnail cannot be read (no copy)."""
        if content_hash not in self.known:
            path = locations.join(self.thumbnail_dir, thumbnail_name(content_hash))
            try:
                with locations.open_binary(path) as f:
                    self.known[content_hash] = read_signature(io.BytesIO(f.read()))
            except OSError:
                self.known[content_hash] = None
        return self.known[content_hash]
