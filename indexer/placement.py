"""Where the job's heavy stages run: on this machine (the default) or on a Ray cluster.

Both run the same three stages with the same signatures, so the runner does not care which:
hash_files(files), embed_files(embedder, items, ...) and find_neighbors(method, vectors, ...).
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from . import neighbors, read, scan


class OneMachine:
    """Hashing threads, decode worker processes, neighbours in this process."""

    description = "one machine"
    timings: dict = {}       # nothing to add to the build's timings
    neighbors_device = None  # the exact top-k runs on the run's device
    hash_files = staticmethod(scan.hash_files)
    embed_files = staticmethod(read.embed_files)
    find_neighbors = staticmethod(neighbors.find_neighbors)


@contextlib.contextmanager
def stages_for(ray_address: str | None) -> Iterator:
    """Yield the stages of a run: this machine's, or a Ray cluster's (`local` starts one)."""
    if not ray_address:
        yield OneMachine()
        return
    # Imported only for --ray: importing Ray costs half a second, and the web never needs it.
    from .distributed.ray_stages import on_ray
    with on_ray(ray_address) as stages:
        yield stages
