"""A rendered page as the cache keeps it, and the bounded cache that keeps pages."""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


# The headers a cached page is sent with whatever the view set; the view's others are kept.
OWN_HEADERS = {"content-type", "content-length", "etag", "cache-control"}


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    content_type: str
    etag: str  # quoted, as sent
    kept: tuple[tuple[str, str], ...] = ()  # the view's other headers (Content-Disposition)

    def headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))),
                ("ETag", self.etag), ("Cache-Control", "no-cache"), *self.kept]


class LRUCache:
    """A thread-safe least-recently-used mapping bounded by the total size of its values."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.size = 0
        self.items: OrderedDict[tuple, CachedPage] = OrderedDict()
        self.lock = threading.Lock()  # gthread workers share one cache between threads

    def get(self, key: tuple) -> CachedPage | None:
        with self.lock:
            page = self.items.get(key)
            if page is not None:
                self.items.move_to_end(key)
            return page

    def put(self, key: tuple, page: CachedPage) -> None:
        if len(page.body) > self.max_bytes:
            return
        with self.lock:
            old = self.items.pop(key, None)
            if old is not None:
                self.size -= len(old.body)
            self.items[key] = page
            self.size += len(page.body)
            while self.size > self.max_bytes:
                _, evicted = self.items.popitem(last=False)
                self.size -= len(evicted.body)

    def __len__(self) -> int:
        return len(self.items)
