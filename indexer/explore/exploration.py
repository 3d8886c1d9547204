"""The job's explore stage: the build's clusters, their curve, and its 2-D map."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from . import kmeans, layout
from .curve_plot import curve_png


@dataclass
class Exploration:
    """What the stage found for one build; each part is None where it was not asked for."""

    clustering: kmeans.Clustering | None
    places: np.ndarray | None    # (N, 2) float32 in [0, 1], gallery order
    map_method: str | None
    curve_png: bytes | None
    timings: dict = field(default_factory=dict)

    @property
    def labels(self) -> np.ndarray | None:
        return self.clustering.labels if self.clustering else None


def explore(vectors: np.ndarray, clusters_option: str | int, map_method: str) -> Exploration:
    """Cluster unit `vectors` and map them as `--clusters` and `--map` say."""
    tick = time.perf_counter()
    clustering = kmeans.cluster(vectors, clusters_option)
    png = curve_png(clustering.curve) if clustering and clustering.curve else None
    cluster_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    places = layout.project(vectors, map_method)
    return Exploration(clustering, places, map_method if places is not None else None, png,
                       {"clusters_seconds": cluster_seconds,
                        "map_seconds": time.perf_counter() - tick})

