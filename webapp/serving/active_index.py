"""The index this web process serves, and everything derived from it, refreshed together.

A published index never changes, so what a process derives from it (the tier threshold, the
rendered pages, the search matrix, the duplicate groups) stays right until another build is
published. Each process looks the active build up at most once every INDEX_REFRESH_SECONDS;
when it changed, one new `ServedIndex` replaces the old one whole, so a request never sees
the pages of one build beside the search matrix of another. The derived parts are made on
first use (a worker that only serves pages never loads the search matrix).
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import current_app

from core.db import db
from core.records import Build, StoredEmbedder

from .lru import LRUCache

EXTENSION = "active_index"


@dataclass
class ServedIndex:
    """One build as this process serves it; `build` is None before the first publish."""

    build: Build | None
    threshold: float | None  # the near-duplicate tier's, calibrated for the build's model
    dim: int | None          # of the build's embeddings
    pages: LRUCache
    _made: dict = field(default_factory=dict)
    _locks: dict = field(default_factory=dict)  # one per derived part
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @property
    def facts(self) -> tuple:
        """What the served pages depend on: a change to any of these replaces them all."""
        return build_id(self.build), self.threshold, self.dim

    def derived(self, name: str, make):
        """Return `make(self)`, computed once for this build (the first caller makes it).

        Each part has its own lock: loading the search matrix (seconds) never holds up the
        duplicate groups, nor the other way round.
        """
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name not in self._made:
                self._made[name] = make(self)
            return self._made[name]


class ActiveIndex:
    """The per-process handle on the served index, looked up at most every `ttl` seconds."""

    def __init__(self, ttl: float, page_cache_bytes: int):
        self.ttl = ttl
        self.page_cache_bytes = page_cache_bytes
        self.served: ServedIndex | None = None
        self.checked_at = float("-inf")
        self._lock = threading.Lock()

    def current(self) -> ServedIndex:
        """Return the served index, asking the database if the last look is `ttl` old."""
        with self._lock:
            now = time.monotonic()
            if now - self.checked_at >= self.ttl:
                build = Build.active()
                # Calibrated anew (scripts/calibrate_tiers.py --save), the threshold changes
                # the tiers on every page: it is looked up with the build.
                threshold, dim = (StoredEmbedder.facts(build.model_key, build.weights,
                                                       build.metric)
                                  if build is not None else (None, None))
                if self.served is None or self.served.facts != (build_id(build), threshold,
                                                                dim):
                    self.served = self._serve(build, threshold, dim)
                self.checked_at = now
            return self.served

    def fresh(self) -> ServedIndex | None:
        """Return the served index if it was looked up less than `ttl` ago, else None.

        Needs no app context: the page-cache middleware answers with it before Flask runs.
        """
        if time.monotonic() - self.checked_at >= self.ttl:
            return None
        return self.served

    def _serve(self, build: Build | None, threshold: float | None,
               dim: int | None) -> ServedIndex:
        if build is not None:
            # Detached with its columns loaded, it stays readable after this request's
            # session is closed; the web only reads it.
            db.session.expunge(build)
        return ServedIndex(build, threshold, dim, LRUCache(self.page_cache_bytes))


def build_id(build: Build | None) -> int | None:
    return build.id if build is not None else None


def init_app(app) -> None:
    """Give the app its own handle (each test app starts empty)."""
    app.extensions[EXTENSION] = ActiveIndex(app.config["INDEX_REFRESH_SECONDS"],
                                            int(app.config["PAGE_CACHE_MB"] * 1024 * 1024))


def served_index() -> ServedIndex:
    """Return the index this request is served from."""
    return current_app.extensions[EXTENSION].current()
