"""Find the image files of a collection, in a deterministic order, and hash their content."""
from __future__ import annotations

import hashlib
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
HASH_CHUNK = 1 << 20


@dataclass
class ScannedFile:
    path: str          # relative to the collection root, with forward slashes
    full_path: str
    file_size: int = 0
    content_hash: str = ""


@dataclass
class Skip:
    path: str
    reason: str


def scan(root: str) -> tuple[list[ScannedFile], list[Skip]]:
    """Return the collection's image files sorted by relative path, and the ones passed over.

    Follows symbolic links but visits each real directory once (so link loops end), skips
    hidden files and folders, and refuses files whose real location is outside the root.
    """
    real_root = os.path.realpath(root)
    files, skips = [], []
    seen_dirs = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real_dir = os.path.realpath(dirpath)
        if real_dir in seen_dirs:
            dirnames[:] = []
            continue
        seen_dirs.add(real_dir)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or os.path.splitext(name)[1].lower() not in IMAGE_EXTENSIONS:
                continue
            full_path = os.path.join(dirpath, name)
            rel = os.path.relpath(full_path, root).replace(os.sep, "/")
            reason = _unusable(full_path, real_root)
            if reason:
                skips.append(Skip(rel, reason))
            else:
                files.append(ScannedFile(rel, full_path))
    files.sort(key=lambda f: f.path)
    skips.sort(key=lambda s: s.path)
    return files, skips


def _unusable(full_path: str, real_root: str) -> str | None:
    """Return why a file cannot be indexed before opening it, or None."""
    real = os.path.realpath(full_path)
    if os.path.commonpath([real, real_root]) != real_root:
        return "links outside the collection root"
    if not os.path.isfile(real):
        return "not a regular file (broken link?)"
    return None


def content_hasher():
    """Return the hash object of a file's content hash (the web hashes uploads with it too)."""
    return hashlib.blake2b(digest_size=16)


def file_digest(full_path: str) -> tuple[int, str]:
    """Return (size in bytes, blake2b-128 hex digest) of a file's content."""
    digest = content_hasher()
    size = 0
    with open(full_path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def hash_files(files: list[ScannedFile], threads: int = 4) -> tuple[list[ScannedFile], list[Skip]]:
    """Fill in size and content hash; files that cannot be read are returned as skips.

    Threads overlap the reads; hashlib releases the GIL on large buffers.
    """
    def one(f: ScannedFile):
        try:
            f.file_size, f.content_hash = file_digest(f.full_path)
            return None
        except OSError as exc:
            return Skip(f.path, f"unreadable: {exc.strerror or exc}")

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, files))
    good = [f for f, err in zip(files, results) if err is None]
    return good, [err for err in results if err is not None]
