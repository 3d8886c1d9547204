"""Group a build's embeddings with k-means, choosing k from an inertia curve and silhouettes.

Why FAISS's k-means and not scikit-learn's: at 100k x 512 on the 2-core machine, one fit
with k = 100 took FAISS 3.7 s (train and assign all) against 59.8 s for scikit-learn's KMeans
(lloyd, one init, 20 iterations) and 5.2 s for MiniBatchKMeans, which FAISS still beats while
running exact Lloyd iterations (`benchmarks/explore_benchmark.py kmeans`; README, Performance).
FAISS trains on at most `max_points_per_centroid` (256) vectors per cluster; every vector is
then assigned to its nearest centre a chunk at a time. Auto's whole curve (27 fits, with
k-means++ starts) and its silhouettes took 39.4 s at 100k.

Auto fits every candidate k on one bounded sample of the vectors (CURVE_SAMPLE), takes the
elbow of the inertia curve (the point farthest below the chord from its first to its last
point), then lets the silhouette score, on a smaller sample still (it is N x N), choose among
the candidates next to the elbow: an elbow of a smooth curve is only roughly placed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .sampling import bounded_sample

AUTO = "auto"
FIXED = "fixed"
MAX_K = 100              # auto tries no more clusters than this (a page of clusters stays usable)
DENSE_UP_TO = 20         # every k up to here is a candidate; past it, geometrically spaced ones
SPARSE_CANDIDATES = 8
MIN_AUTO_IMAGES = 6      # fewer images than this: auto makes no clusters (nothing to group)
CURVE_SAMPLE = 20_000    # vectors each candidate's fit sees
SILHOUETTE_SAMPLE = 5_000
SEEDING_SAMPLE = 4_096   # vectors k-means++ picks its starting centres from
SILHOUETTE_WINDOW = 2    # candidates either side of the elbow that the silhouette chooses from
NITER = 20
ASSIGN_CHUNK = 65_536    # rows assigned to centroids at a time (bounded memory)
SEED = 1234


@dataclass
class Curve:
    """What auto measured: inertia and silhouette per candidate k, its elbow and its choice."""

    ks: list[int]
    inertias: list[float]
    silhouettes: list[float | None]  # None where not measured (away from the elbow)
    elbow: int
    chosen: int

    def as_json(self) -> dict:
        return {"ks": self.ks, "inertias": self.inertias, "silhouettes": self.silhouettes,
                "elbow": self.elbow, "chosen": self.chosen}


@dataclass
class Clustering:
    """Each image's cluster (0 = the largest), how many clusters, and how k was chosen."""

    k: int
    method: str              # AUTO or FIXED
    labels: np.ndarray       # int32, one per vector
    curve: Curve | None      # only for AUTO


def parse_option(text: str) -> str | int:
    """Return AUTO or a number of clusters >= 0 from `--clusters auto|N|0`."""
    if text == AUTO:
        return AUTO
    value = int(text)
    if value < 0:
        raise ValueError("--clusters must be auto or a number >= 0")
    return value


def cluster(vectors: np.ndarray, option: str | int, seed: int = SEED) -> Clustering | None:
    """Cluster `vectors` as `--clusters` says; None when there is nothing to group."""
    n = len(vectors)
    if option == AUTO:
        return choose_and_cluster(vectors, seed)
    k = min(int(option), n)
    if k == 0 or n < 2:
        return None
    sample = vectors[bounded_sample(n, CURVE_SAMPLE, seed)]
    centroids, _ = fit(sample, k, seed)
    labels, k = relabel_by_size(assign(vectors, centroids))
    return Clustering(k, FIXED, labels, None)


def choose_and_cluster(vectors: np.ndarray, seed: int = SEED) -> Clustering | None:
    """Choose k from the inertia curve and silhouettes, then assign every vector."""
    ks = candidate_ks(len(vectors))
    if not ks:
        return None
    sample = vectors[bounded_sample(len(vectors), CURVE_SAMPLE, seed)]
    fits = {k: fit(sample, k, seed) for k in ks}
    inertias = [fits[k][1] for k in ks]
    elbow = elbow_index(ks, inertias)
    probe = bounded_sample(len(sample), SILHOUETTE_SAMPLE, seed + 1)
    silhouettes: list[float | None] = [None] * len(ks)
    for i in range(max(0, elbow - SILHOUETTE_WINDOW), min(len(ks), elbow + SILHOUETTE_WINDOW + 1)):
        silhouettes[i] = silhouette(sample[probe], assign(sample[probe], fits[ks[i]][0]))
    measured = [i for i, s in enumerate(silhouettes) if s is not None]
    best = max(measured, key=lambda i: (silhouettes[i], -i)) if measured else elbow
    labels, k = relabel_by_size(assign(vectors, fits[ks[best]][0]))
    return Clustering(k, AUTO, labels, Curve(ks, inertias, silhouettes, ks[elbow], k))


def candidate_ks(n: int) -> list[int]:
    """Return the k values auto tries for n images: 2 .. about 2 sqrt(n), fewer than n."""
    if n < MIN_AUTO_IMAGES:
        return []
    top = min(n - 1, MAX_K, max(2, int(2 * math.sqrt(n))))
    dense = list(range(2, min(top, DENSE_UP_TO) + 1))
    if top <= DENSE_UP_TO:
        return dense
    sparse = np.geomspace(DENSE_UP_TO, top, SPARSE_CANDIDATES + 1)[1:]
    return dense + sorted({int(round(k)) for k in sparse} - set(dense))


def fit(sample: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, float]:
    """Return (centroids, inertia over the whole sample) of one k-means fit."""
    import faiss  # the job's dependency, not the web's
    sample = np.ascontiguousarray(sample, dtype=np.float32)
    kmeans = faiss.Kmeans(sample.shape[1], k, niter=NITER, seed=seed,
                          min_points_per_centroid=1)  # no warning for small collections
    kmeans.train(sample, init_centroids=spread_seeds(sample, k, seed))
    distances, _ = kmeans.index.search(sample, 1)
    return kmeans.centroids, float(distances.sum())


def spread_seeds(sample: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Return k starting centres by k-means++ on at most SEEDING_SAMPLE vectors.

    FAISS starts from k random vectors; with two of them in one group and none in another,
    Lloyd's iterations keep the groups merged (on 5 blobs, k = 5 to 7 all stayed at one
    inertia), and the elbow moves. k-means++ spreads the starts; a bounded sample keeps it
    cheap (it is O(n k) per centre).
    """
    from sklearn.cluster import kmeans_plusplus
    rows = bounded_sample(len(sample), SEEDING_SAMPLE, seed)
    centres, _ = kmeans_plusplus(sample[rows], k, random_state=seed)
    return np.ascontiguousarray(centres, dtype=np.float32)


def assign(vectors: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Return each vector's nearest centroid (squared L2), a chunk of rows at a time."""
    labels = np.empty(len(vectors), dtype=np.int32)
    squared = (centroids * centroids).sum(axis=1)
    for start in range(0, len(vectors), ASSIGN_CHUNK):
        rows = vectors[start:start + ASSIGN_CHUNK]
        # |v - c|^2 = |v|^2 - 2 v.c + |c|^2; |v|^2 is the same for every c, so it drops out.
        labels[start:start + len(rows)] = np.argmin(squared - 2 * rows @ centroids.T, axis=1)
    return labels


def relabel_by_size(labels: np.ndarray) -> tuple[np.ndarray, int]:
    """Number the non-empty clusters 0.. from the largest (ties: the lower old number)."""
    sizes = np.bincount(labels)
    order = sorted(np.flatnonzero(sizes), key=lambda c: (-sizes[c], c))
    new_of = np.full(len(sizes), -1, dtype=np.int32)
    new_of[order] = np.arange(len(order), dtype=np.int32)
    return new_of[labels], len(order)


def elbow_index(ks: list[int], inertias: list[float]) -> int:
    """Return the index of the curve's elbow: the point farthest below its chord."""
    if len(ks) < 3:
        return 0
    x = np.asarray(ks, dtype=np.float64)
    y = np.asarray(inertias, dtype=np.float64)
    x = (x - x[0]) / (x[-1] - x[0])
    span = y.max() - y.min()
    if span <= 0:
        return 0
    y = (y - y.min()) / span
    chord = y[0] + (y[-1] - y[0]) * x
    return int(np.argmax(chord - y))


def silhouette(sample: np.ndarray, labels: np.ndarray) -> float | None:
    """Return the mean silhouette of a (bounded) sample, None when it is undefined."""
    from sklearn.metrics import silhouette_score
    groups = len(np.unique(labels))
    if groups < 2 or groups >= len(sample):
        return None
    return float(silhouette_score(sample, labels))
