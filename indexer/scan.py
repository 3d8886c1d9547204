"""Find the image files of a collection, in a deterministic order, and hash their content."""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

from core import locations
from core.hashing import file_digest
from core.picture_facts import PictureFacts

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff", ".ppm",
                    ".pgm", ".pbm"}  # what imaging.FORMATS decodes


@dataclass
class ScannedFile:
    path: str          # relative to the collection root, with forward slashes
    full_path: str
    file_size: int = 0
    content_hash: str = ""
    # What the header says (format, JPEG quality, capture time) and the file's modification
    # time: the duplicates page tells an original from its copies with them.
    facts: PictureFacts = field(default_factory=PictureFacts)
    modified_at: datetime | None = None
    root: str | None = None  # the folder scanned, which reading checks the file is still in


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
            if not is_image_name(name):
                continue
            full_path = os.path.join(dirpath, name)
            rel = os.path.relpath(full_path, root).replace(os.sep, "/")
            reason = _unusable(full_path, real_root)
            if reason:
                skips.append(Skip(rel, reason))
            else:
                files.append(ScannedFile(rel, full_path, root=root))
    files.sort(key=lambda f: f.path)
    skips.sort(key=lambda s: s.path)
    return files, skips


def is_image_name(name: str) -> bool:
    """Return whether a file name is one the job indexes: an image extension, not hidden."""
    return not name.startswith(".") and os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def source_root(source: str) -> str:
    """Return the root a build records: a folder's absolute path, or the prefix's URL.

    Raises locations.SourceError for a folder that does not exist.
    """
    if locations.is_remote(source):
        return source.rstrip("/")
    root = os.path.abspath(os.path.expanduser(source))
    if not os.path.isdir(root):
        raise locations.SourceError(f"no such folder: {source}")
    return root


def scan_source(root: str) -> tuple[list[ScannedFile], list[Skip]]:
    """Scan a folder, or list an object-store prefix (raises locations.SourceError)."""
    return scan_prefix(root) if locations.is_remote(root) else scan(root)


def scan_prefix(prefix: str, max_bytes: int = locations.MAX_OBJECT_BYTES
                ) -> tuple[list[ScannedFile], list[Skip]]:
    """Return the image objects under an object-store prefix, sorted by relative path, and
    those over `max_bytes` (by the listing's sizes: they are never read).

    The same names as a folder's scan: hidden objects and "folders" are passed over; an
    object store has no links. Raises locations.SourceError when the prefix cannot be
    listed or holds nothing.
    """
    files, skips = [], []
    listed = locations.list_objects(prefix)
    if not listed:
        raise locations.SourceError(f"no objects under {prefix}")
    for rel, size in listed.items():
        parts = rel.split("/")
        if any(p.startswith(".") for p in parts[:-1]) or not is_image_name(parts[-1]):
            continue
        if size > max_bytes:
            skips.append(Skip(rel, f"{size / 2**20:.0f} MB: objects over "
                                   f"{max_bytes / 2**20:.0f} MB are not read"))
        else:
            files.append(ScannedFile(rel, locations.join(prefix, rel), size))
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


def modified_time(full_path: str) -> datetime | None:
    """Return a local file's modification time (UTC, naive), None for an object."""
    if locations.is_remote(full_path):
        return None
    return datetime.fromtimestamp(os.stat(full_path).st_mtime, timezone.utc).replace(tzinfo=None)


def hash_files(files: list[ScannedFile], threads: int = 4) -> tuple[list[ScannedFile], list[Skip]]:
    """Fill in size and content hash; files that cannot be read are returned as skips.

    Threads overlap the reads (of files or objects, by their full_path); hashlib releases
    the GIL on large buffers.
    """
    def one(f: ScannedFile):
        try:
            f.file_size, f.content_hash, f.facts = file_digest(f.full_path, f.root)
            f.modified_at = modified_time(f.full_path)
            return None
        except OSError as exc:
            return Skip(f.path, f"unreadable: {exc.strerror or exc}")

    with ThreadPoolExecutor(threads) as pool:
        results = list(pool.map(one, files))
    good = [f for f, err in zip(files, results) if err is None]
    return good, [err for err in results if err is not None]
