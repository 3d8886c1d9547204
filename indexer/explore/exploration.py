"""The job's explore stage: the build's clusters, their curve, and its 2-D map."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from . import kmeans, layout
from .components import principal_components
from .curve_plot import curve_png
from .reuse import Explored, carry_over


@dataclass
class Exploration:
    """What the stage found for one build; each part is None where it was not asked for."""

    clustering: kmeans.Clustering | None
    places: np.ndarray | None    # (N, 2) float32 in [0, 1], gallery order
    map_method: str | None
    curve_png: bytes | None
    timings: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)  # as asked: what a later run compares with
    reused: bool = False         # carried over from the served build (reuse.py)

    @property
    def labels(self) -> np.ndarray | None:
        return self.clustering.labels if self.clustering else None


def one_thread():
    """Limit BLAS and OpenMP to one thread, FAISS's and scikit-learn's pools included
    (for k-means: the map keeps the machine's threads).

    k-means++'s seeding and the candidate fits are thousands of small products; on 2 cores
    OpenBLAS's and FAISS's threads made them 3-10x slower, and far worse on a busy machine
    (1000 images: 26.5 s against 7.7 s; README, Performance).
    """
    # Imported first: threadpoolctl limits the thread pools of the libraries loaded so far.
    import faiss  # noqa: F401
    import sklearn.decomposition  # noqa: F401
    return threadpool_limits(1)


def explore(vectors: np.ndarray, clusters_option: str | int, map_method: str,
            hashes: list[str] | None = None, earlier: Explored | None = None) -> Exploration:
    """Cluster unit `vectors` and map them as `--clusters` and `--map` say, carrying over
    what `earlier` (the served build, by content `hashes`) found where little changed."""
    options = {"clusters": clusters_option, "map": map_method}
    with one_thread():
        tick = time.perf_counter()
        carried = carry_over(earlier, options, hashes, vectors) if hashes else None
        if carried is not None:
            clustering, places = carried
            curve = earlier.curve_png if clustering and clustering.curve else None
            return Exploration(clustering, places, earlier.map_method if places is not None
                               else None, curve,
                               {"explore_reused_seconds": time.perf_counter() - tick},
                               options, reused=True)
        clustering = kmeans.cluster(principal_components(vectors, kmeans.SEED), clusters_option)
    png = curve_png(clustering.curve) if clustering and clustering.curve else None
    cluster_seconds = time.perf_counter() - tick
    tick = time.perf_counter()
    places = layout.project(vectors, map_method)  # t-SNE's Barnes-Hut uses the threads
    return Exploration(clustering, places, map_method if places is not None else None, png,
                       {"clusters_seconds": cluster_seconds,
                        "map_seconds": time.perf_counter() - tick}, options)
