"""Per-process caches for the read-only pages: the active build, and rendered responses.

A published index never changes, so a page rendered for one build stays right until another
build is published. Each web process looks the active build up at most once every
INDEX_REFRESH_SECONDS and keeps rendered pages (HTML and JSON) keyed by build and URL, in a
least-recently-used cache bounded by PAGE_CACHE_MB. A publish is therefore picked up within
INDEX_REFRESH_SECONDS; the cache is dropped as soon as the active build changes.

Hits are answered by a WSGI middleware in front of Flask (no request context, routing or
response object: a dictionary look-up and the stored bytes), which is what lets two cores
serve thousands of pages a second; misses go through Flask and fill the cache.
"""
from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import current_app, make_response, request
from werkzeug.http import parse_etags

from .db import db
from .models import Build

EXTENSION = "page_cache"


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    content_type: str
    etag: str  # quoted, as sent

    def headers(self) -> list[tuple[str, str]]:
        return [("Content-Type", self.content_type), ("Content-Length", str(len(self.body))),
                ("ETag", self.etag), ("Cache-Control", "no-cache")]


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

    def clear(self) -> None:
        with self.lock:
            self.items.clear()
            self.size = 0

    def __len__(self) -> int:
        return len(self.items)


class ActiveBuildCache:
    """The active build, looked up at most once every `ttl` seconds."""

    def __init__(self, ttl: float, pages: LRUCache):
        self.ttl = ttl
        self.pages = pages
        self.build: Build | None = None
        self.checked_at = float("-inf")

    def get(self) -> Build | None:
        now = time.monotonic()
        if now - self.checked_at >= self.ttl:
            build = Build.active()
            if build is not None:
                # Detached with its columns loaded, it stays readable after this request's
                # session is closed; the web only reads it.
                db.session.expunge(build)
            if _build_id(build) != _build_id(self.build):
                self.pages.clear()
            self.build, self.checked_at = build, now
        return self.build

    def fresh_page(self, environ) -> CachedPage | None:
        """Return the cached page for this request if the active build is known and fresh."""
        if time.monotonic() - self.checked_at >= self.ttl:
            return None  # Flask must look the build up (inside an app context) first
        return self.pages.get(page_key(_build_id(self.build), environ))


def page_key(build_id: int | None, environ) -> tuple:
    return build_id, environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")


class CachedPagesMiddleware:
    """Answer GETs of cached pages before Flask; pass everything else on."""

    def __init__(self, wsgi_app, cache: ActiveBuildCache):
        self.wsgi_app = wsgi_app
        self.cache = cache

    def __call__(self, environ, start_response):
        page = self.cache.fresh_page(environ) if environ["REQUEST_METHOD"] == "GET" else None
        if page is None:
            return self.wsgi_app(environ, start_response)
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains(page.etag.strip('"')):
            start_response("304 Not Modified", [("ETag", page.etag),
                                                ("Cache-Control", "no-cache")])
            return []
        start_response("200 OK", page.headers())
        return [page.body]


def _build_id(build: Build | None) -> int | None:
    return build.id if build is not None else None


def init_app(app) -> None:
    """Give the app its own caches (each test app starts empty)."""
    pages = LRUCache(int(app.config["PAGE_CACHE_MB"] * 1024 * 1024))
    cache = ActiveBuildCache(app.config["INDEX_REFRESH_SECONDS"], pages)
    app.extensions[EXTENSION] = cache
    app.wsgi_app = CachedPagesMiddleware(app.wsgi_app, cache)


def active_build() -> Build | None:
    """Return the build the site serves, as of at most INDEX_REFRESH_SECONDS ago."""
    return current_app.extensions[EXTENSION].get()


def cached_page(view):
    """Cache a GET view's 200 responses; send them with an ETag, to be revalidated each time.

    `Cache-Control: no-cache` lets browsers and proxies keep the page but ask again with
    If-None-Match; the answer is then a 304 from memory.
    """
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        cache = current_app.extensions[EXTENSION]
        key = page_key(_build_id(cache.get()), request.environ)
        response = make_response(view(*args, **kwargs))
        if response.status_code != 200:
            return response
        body = response.get_data()
        page = CachedPage(body, response.content_type,
                          '"%s"' % hashlib.blake2b(body, digest_size=12).hexdigest())
        cache.pages.put(key, page)
        response.set_etag(page.etag.strip('"'))
        response.cache_control.no_cache = True
        return response.make_conditional(request)
    return wrapper
