"""The content hash: what an image is stored under, by the job for its files and by the web
for uploads."""
from __future__ import annotations

import hashlib

from . import locations
from .picture_facts import PictureFacts, read_facts

HASH_CHUNK = 1 << 20


def content_hasher():
    """Return the hash object of a file's content hash (blake2b, 128 bits)."""
    return hashlib.blake2b(digest_size=16)


def content_hash(data: bytes) -> str:
    """Return the content hash the job gives a file holding `data`."""
    digest = content_hasher()
    digest.update(data)
    return digest.hexdigest()


def file_digest(full_path: str, root: str | None = None) -> tuple[int, str, PictureFacts]:
    """Return (size in bytes, blake2b-128 hex digest, header facts) of a file's or an
    object's content, opened once (locations.open_stream: no link, no FIFO, inside `root`)."""
    with locations.open_stream(full_path, root) as f:
        return digest_of(f)


def digest_of(f) -> tuple[int, str, PictureFacts]:
    """Return (size, content hash, header facts) of what is left to read in a binary file.

    The facts (format, JPEG quality, capture time) come from the first chunk, which the
    hash reads anyway: no second read.
    """
    digest = content_hasher()
    size, facts = 0, None
    while chunk := f.read(HASH_CHUNK):
        if facts is None:
            facts = read_facts(chunk)
        digest.update(chunk)
        size += len(chunk)
    return size, digest.hexdigest(), facts or PictureFacts()
