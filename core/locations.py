"""Where the job reads images and writes thumbnails: a local folder, or an object-store prefix.

Object stores go through fsspec (s3fs for s3://), imported only when a URL asks for one, so
a folder build and the web never load them. Endpoint and credentials come from the usual AWS
environment variables (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, ...), read by botocore itself: any process, a
forked decode worker or a Ray worker on another machine, needs nothing else to read a URL.
"""
from __future__ import annotations

import io
import os
import posixpath
from urllib.parse import urlsplit

# Each process's own filesystem objects, by protocol. fsspec's async filesystems run on an
# event loop in a thread that a forked child does not inherit; fsspec starts a new loop in
# the child, but an instance keeps the loop (and HTTP session) it was made with, and s3fs
# refuses to run in a child ("This class is not fork-safe"): the pid is part of the key.
_filesystems: dict[tuple[int, str], object] = {}


class SourceError(Exception):
    """A source that cannot be read: no such folder, a prefix that is empty or unreachable."""


class ObjectBytes(io.BytesIO):
    """An object's bytes in memory, shown as its URL (so Pillow's errors name the object)."""

    def __init__(self, data: bytes, url: str):
        super().__init__(data)
        self.url = url

    def __repr__(self) -> str:
        return repr(self.url)


def is_remote(path: str) -> bool:
    """Return whether `path` is an object-store URL (s3://...) rather than a local path."""
    scheme = urlsplit(str(path)).scheme
    return len(scheme) > 1 and scheme != "file"  # one letter: a Windows drive, not a scheme


def filesystem(url: str):
    """Return this process's fsspec filesystem for the URL's protocol."""
    protocol = urlsplit(url).scheme
    key = (os.getpid(), protocol)
    if key not in _filesystems:
        import fsspec  # the job only, and only for object-store URLs

        # skip_instance_cache: fsspec's own cache could hand back an instance made before a fork.
        _filesystems[key] = fsspec.filesystem(protocol, skip_instance_cache=True)
    return _filesystems[key]


def open_binary(path: str):
    """Open a local file or an object for reading bytes (a seekable file object)."""
    if not is_remote(path):
        return open(path, "rb")
    # One GET for the whole object: images are read whole anyway (hash, decode), and a
    # buffered remote file would first ask for the object's size, then its bytes.
    return ObjectBytes(filesystem(path).cat_file(path), path)


def image_source(path: str):
    """Return what Pillow should open: the path of a local file, the bytes of an object."""
    return open_binary(path) if is_remote(path) else path


def join(base: str, relative: str) -> str:
    """Return `relative` under a folder or a URL prefix."""
    if is_remote(base):
        return posixpath.join(base.rstrip("/"), relative)
    return os.path.join(base, relative)


def write_bytes(url: str, data: bytes) -> None:
    """Store an object whole: a PUT is atomic, so readers never see part of it."""
    filesystem(url).pipe_file(url, data)


def list_objects(prefix: str) -> dict[str, int]:
    """Return {path relative to the prefix: size} of every object under it (one listing).

    Raises SourceError, with the store's reason on one line, when it cannot be listed.
    """
    fs = filesystem(prefix)
    base = prefix.rstrip("/")
    stripped = fs._strip_protocol(base)
    try:
        found = fs.find(base, detail=True)
    except Exception as exc:  # no bucket, refused connection, bad credentials: all fatal
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise SourceError(f"cannot list {prefix}: {exc.__class__.__name__}: {reason}") from exc
    sizes = {}
    for name, info in found.items():
        if info.get("type", "file") != "file":
            continue
        relative = name[len(stripped):].lstrip("/")
        if relative:  # the prefix itself, where it names one object
            sizes[relative] = int(info.get("size") or 0)
    return sizes

