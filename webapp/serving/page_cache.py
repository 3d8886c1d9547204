"""Rendered pages (HTML and JSON) kept per build and URL, answered before Flask runs.

A page rendered for one build stays right until another build is published; the pages live
in the served index (webapp/serving/active_index.py), in a least-recently-used cache bounded by
PAGE_CACHE_MB, and go with it when the active build changes.

Hits are answered by a WSGI middleware in front of Flask (no request context, routing or
response object: a dictionary look-up and the stored bytes), which is what lets two cores
serve thousands of pages a second; misses go through Flask and fill the cache. Security
headers are added outside both (webapp/security.py), so hits carry them too.
"""
from __future__ import annotations

import functools
import hashlib

from flask import Response, make_response, request
from werkzeug.http import parse_etags

from .active_index import EXTENSION, ActiveIndex, served_index
from .lru import OWN_HEADERS, CachedPage


def page_key(environ) -> tuple:
    return environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")


class CachedPagesMiddleware:
    """Answer GETs of cached pages before Flask; pass everything else on."""

    def __init__(self, wsgi_app, active: ActiveIndex):
        self.wsgi_app = wsgi_app
        self.active = active

    def __call__(self, environ, start_response):
        page = None
        if environ["REQUEST_METHOD"] == "GET":
            served = self.active.fresh()  # None: Flask must look the build up first
            page = served.pages.get(page_key(environ)) if served else None
        if page is None:
            return self.wsgi_app(environ, start_response)
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match and parse_etags(if_none_match).contains(page.etag.strip('"')):
            start_response("304 Not Modified", [("ETag", page.etag),
                                                ("Cache-Control", "no-cache")])
            return []
        start_response("200 OK", page.headers())
        return [page.body]


def cached_page(view):
    """Cache a GET view's 200 responses; send them with an ETag, to be revalidated each time.

    `Cache-Control: no-cache` lets browsers and proxies keep the page but ask again with
    If-None-Match; the answer is then a 304 from memory.
    """
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        served = served_index()  # the pages go with the build the view renders
        # Rendered already for this build: the middleware passed the request on only because
        # the build had not been looked up for a while (a big page, /api/map at 100k, costs
        # seconds to render again).
        page = served.pages.get(page_key(request.environ))
        if page is not None:
            response = Response(page.body, headers=page.headers())
            return response.make_conditional(request)
        response = make_response(view(*args, **kwargs))
        if response.status_code != 200:
            return response
        body = response.get_data()
        page = CachedPage(body, response.content_type,
                          '"%s"' % hashlib.blake2b(body, digest_size=12).hexdigest(),
                          tuple((name, value) for name, value in response.headers.items()
                                if name.lower() not in OWN_HEADERS))
        served.pages.put(page_key(request.environ), page)
        response.set_etag(page.etag.strip('"'))
        response.cache_control.no_cache = True
        return response.make_conditional(request)
    return wrapper


def init_app(app) -> None:
    """Answer cached pages in front of the app's Flask handler."""
    app.wsgi_app = CachedPagesMiddleware(app.wsgi_app, app.extensions[EXTENSION])
