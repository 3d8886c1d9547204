"""The content hash: what an image is stored under, by the job for its files and by the web
for uploads."""
from __future__ import annotations

import hashlib

from . import locations

HASH_CHUNK = 1 << 20


def content_hasher():
    """Return the hash object of a file's content hash (blake2b, 128 bits)."""
    return hashlib.blake2b(digest_size=16)


def content_hash(data: bytes) -> str:
    """Return the content hash the job gives a file holding `data`."""
    digest = content_hasher()
    digest.update(data)
    return digest.hexdigest()


def file_digest(full_path: str) -> tuple[int, str]:
    """Return (size in bytes, blake2b-128 hex digest) of a file's content."""
    digest = content_hasher()
    size = 0
    with locations.open_binary(full_path) as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()
