"""Write a file that readers (other workers, other jobs) may open at any moment: whole or
absent, never part of it."""
from __future__ import annotations

import contextlib
import os
import tempfile


def write_atomically(path: str, data: bytes, *, durable: bool = False) -> None:
    """Write `data` to `path` so that no reader ever sees a partial file.

    Each writer has a temp file of its own in the same folder (hidden, so a scan of the folder
    passes it over); the rename is atomic, so two writers at once both leave one whole file,
    and an error leaves no temp file behind. `durable` syncs the bytes to disk before the
    rename: for a big file written once and read for long (a search index).
    """
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=folder, prefix=".partial-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            if durable:
                f.flush()
                os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
