"""Take an uploaded image in memory only, and say plainly what is wrong with a bad upload."""
from __future__ import annotations

import io

from flask import Request, request

FIELD = "image"
MAX_K = 100


class InMemoryRequest(Request):
    """A request whose uploaded files stay in memory (MAX_CONTENT_LENGTH bounds them).

    Werkzeug's default spools any file over 500 KB to a temporary file on disk; nothing a
    user uploads is to be written anywhere.
    """

    def _get_file_stream(self, total_content_length, content_type, filename=None,
                         content_length=None):
        return io.BytesIO()


class UploadError(Exception):
    """An upload that cannot be searched with; `status` is the HTTP status to answer."""

    def __init__(self, message: str, status: int = 400, retry_after: int | None = None):
        super().__init__(message)
        self.message, self.status, self.retry_after = message, status, retry_after

    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)} if self.retry_after else {}


def uploaded_image() -> bytes:
    """Return the bytes of the multipart file field `image`, or raise UploadError."""
    upload = request.files.get(FIELD)
    if upload is None:
        others = sorted(request.files)
        got = f" (got {', '.join(repr(name) for name in others)})" if others else ""
        raise UploadError(f"send the image as a multipart/form-data file field named "
                          f"'{FIELD}'{got}")
    data = upload.read()
    if not data:
        raise UploadError("the uploaded file is empty; choose an image file")
    return data


def requested_k(default: int) -> int:
    """Return `k` from the form or the query string, default the index's k."""
    raw = request.form.get("k") or request.args.get("k")
    if not raw:
        return default
    try:
        k = int(raw)
    except ValueError:
        raise UploadError(f"k must be an integer, not {raw!r}") from None
    if not 1 <= k <= MAX_K:
        raise UploadError(f"k must be between 1 and {MAX_K}")
    return k
