"""Where the job reads images and writes thumbnails: a local folder, or an object-store prefix.

Object stores go through fsspec (s3fs for s3://), imported only when a URL asks for one, so
a folder build and the web never load them. Endpoint and credentials come from the usual AWS
environment variables (AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID,
AWS_SECRET_ACCESS_KEY, AWS_DEFAULT_REGION, ...), read by botocore itself: any process, a
forked decode worker or a Ray worker on another machine, needs nothing else to read a URL.
"""
from __future__ import annotations

import errno
import io
import os
import posixpath
import stat
from urllib.parse import urlsplit

# Each process's own filesystem objects, by protocol. fsspec's async filesystems run on an
# event loop in a thread that a forked child does not inherit; fsspec starts a new loop in
# the child, but an instance keeps the loop (and HTTP session) it was made with, and s3fs
# refuses to run in a child ("This class is not fork-safe"): the pid is part of the key.
_filesystems: dict[tuple[int, str], object] = {}
# Objects are decoded from memory, read whole, by several workers at once: larger ones are
# skipped at the listing, by their listed size. 256 MB is past any photograph or scan Pillow
# decodes within its pixel limit in a common format.
MAX_OBJECT_BYTES = 256 * 2**20
STREAM_BLOCK = 8 * 2**20  # what a streamed read asks the store for at a time


class SourceError(Exception):
    """A source that cannot be read: no such folder, a prefix that is empty or unreachable."""


class ObjectBytes(io.BytesIO):
    """An object's bytes in memory, shown as its URL (so Pillow's errors name the object)."""

    def __init__(self, data: bytes, url: str):
        super().__init__(data)
        self.url = url

    def __repr__(self) -> str:
        return repr(self.url)


class LocalFile(io.BufferedReader):
    """A file open_local opened, shown as its path (so Pillow's errors name the file)."""

    def __init__(self, fd: int, path: str):
        super().__init__(io.FileIO(fd, "rb"))
        self.path = path

    def __repr__(self) -> str:
        return repr(self.path)


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


def forget_filesystems() -> None:
    """Drop this process's filesystem objects: the next use reads the endpoint and keys from
    the environment again (tests start and stop object-store servers in one process)."""
    _filesystems.clear()


def open_binary(path: str, root: str | None = None):
    """Open a local file (see open_local) or an object for reading bytes, seekable.

    An object is read whole, in one GET: images are decoded whole anyway, and a buffered
    remote file would first ask for the object's size, then its bytes.
    """
    if not is_remote(path):
        return open_local(path, root)
    return ObjectBytes(filesystem(path).cat_file(path), path)


def open_stream(path: str, root: str | None = None):
    """Open a local file (see open_local) or an object to be read through once: an object
    in blocks of STREAM_BLOCK, so hashing a large one never holds it whole (and a typical
    image is still one GET)."""
    if not is_remote(path):
        return open_local(path, root)
    return filesystem(path).open(path, "rb", block_size=STREAM_BLOCK, cache_type="readahead")


def open_local(path: str, root: str | None = None):
    """Open a local file once for reading, as it is now, not as a scan saw it.

    Never through a symbolic link at its last step (O_NOFOLLOW), never a FIFO or device (the
    open does not block, and it must be a regular file), and, given `root`, only while its
    real path is inside it (a folder swapped for a link after the scan). Hash and decode
    from what this returns, so that both read the file that was checked.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OSError(errno.ELOOP, "a symbolic link (not followed once scanned)") from None
        raise
    try:
        opened = os.fstat(fd)
        if not stat.S_ISREG(opened.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if root is not None and not _is_inside(path, root, opened):
            raise OSError(errno.EXDEV, "links outside the collection root")
        os.set_blocking(fd, True)
        return LocalFile(fd, path)
    except BaseException:
        os.close(fd)
        raise


def _is_inside(path: str, root: str, opened: os.stat_result) -> bool:
    """Return whether the file opened is the one at the path's real location, inside root."""
    real, real_root = os.path.realpath(path), os.path.realpath(root)
    if os.path.commonpath([real, real_root]) != real_root:
        return False
    try:
        there = os.stat(real)
    except OSError:
        return False
    return (there.st_dev, there.st_ino) == (opened.st_dev, opened.st_ino)


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

