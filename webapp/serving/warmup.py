"""Render the gallery and image pages before the workers start, so that they start warm.

gunicorn loads the app once in its master (preload_app) and forks the workers from it; pages
rendered in the master are in every worker's cache from its first request, instead of each
worker rendering each page once under load. Bounded by PAGE_CACHE_WARM pages (and by the
cache's own size); pages beyond that are rendered on first request as usual.
"""
import logging
import time

from flask import Flask

from core.db import db

from .active_index import served_index

log = logging.getLogger(__name__)


def page_urls(app: Flask, limit: int) -> list[str]:
    """Return up to `limit` URLs: the gallery pages, then the image pages in gallery order."""
    with app.app_context():
        build = served_index().build
        if build is None:
            return []
        per_page = app.config["PER_PAGE"]
        pages = -(-build.image_count // per_page)
        urls = ["/"] + [f"/?page={p}" for p in range(1, pages + 1)]
        rows = build.page(1, max(0, limit - len(urls)))
        db.session.remove()
    return (urls + [f"/images/{row.id}" for row in rows])[:limit]


def warm_pages(app: Flask) -> int:
    """Render the first PAGE_CACHE_WARM pages into the page cache; return how many."""
    limit = app.config["PAGE_CACHE_WARM"]
    if limit <= 0:
        return 0
    started = time.perf_counter()
    client = app.test_client()
    urls = page_urls(app, limit)
    for url in urls:
        client.get(url)
    with app.app_context():
        # The workers are forked next: none may inherit this process's connections.
        db.engine.dispose()
    log.info("rendered %d pages in %.1f s before starting the workers", len(urls),
             time.perf_counter() - started)
    return len(urls)
