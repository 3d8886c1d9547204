"""Carry the served build's clusters and map over to a new build of nearly the same images.

A re-run that finds nothing new would otherwise cluster and map the same vectors again (the
explore stage was most of such a run). When the collection barely changed, each image keeps
its cluster and its place; a new image joins its nearest cluster centre (the mean of that
cluster's members, as k-means computes it) and is placed where its most similar known images
are (layout.place_near, the rule t-SNE's unsampled images use). Nothing known moves, so the
map a user learned stays as it was.

A full refit instead when:
- more than REFIT_SHARE of the images are new or gone: a twentieth keeps a new folder of a
  few dozen photographs in a collection of a thousand from reshaping nothing, while a big
  change re-draws the map; at 100k a refit costs about a minute (README), so this also bounds
  how often that is paid;
- or new images fit no cluster: at least MIN_NOVEL of them, and more than NOVEL_SHARE of the
  new ones, lie farther from every centre than 99% of the known images lie from their own. A
  new family of photographs deserves a cluster of its own, not a place in the nearest; a few
  odd photographs (about 1% of new ones by that definition) do not force a refit.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kmeans, layout

REFIT_SHARE = 0.05
MIN_NOVEL = 5
NOVEL_SHARE = 0.03
NOVEL_PERCENTILE = 99


@dataclass
class Explored:
    """What an earlier build's explore stage found, per content hash, and how it was asked."""

    options: dict                     # {"clusters": ..., "map": ...} as the job was given
    hashes: list[str]
    clustering: kmeans.Clustering | None
    places: np.ndarray | None
    map_method: str | None
    curve_png: bytes | None


def carry_over(earlier: Explored | None, options: dict, hashes: list[str],
               vectors: np.ndarray) -> tuple[kmeans.Clustering | None, np.ndarray | None] | None:
    """Return (clustering, places) for `hashes` from `earlier`, or None where a refit is due."""
    if earlier is None or earlier.options != options:
        return None
    row_of = {h: i for i, h in reversed(list(enumerate(earlier.hashes)))}
    old_rows = np.array([row_of.get(h, -1) for h in hashes])
    known = old_rows >= 0
    gone = len(set(earlier.hashes) - set(hashes))
    if (int((~known).sum()) + gone) > REFIT_SHARE * len(earlier.hashes):
        return None
    clustering = None
    if earlier.clustering is not None:
        clustering = extend_clusters(earlier.clustering, old_rows, vectors)
        if clustering is None:
            return None
    places = None
    if earlier.places is not None:
        places = np.empty((len(hashes), 2), dtype=np.float32)
        places[known] = earlier.places[old_rows[known]]
        if not known.all():
            places[~known] = layout.place_near(vectors[~known], vectors[known], places[known])
    return clustering, places


def extend_clusters(earlier: kmeans.Clustering, old_rows: np.ndarray, vectors: np.ndarray):
    """Return the clustering with new rows (old_rows -1) at their nearest centre, or None
    where too many of them fit no cluster."""
    known = old_rows >= 0
    labels = np.empty(len(old_rows), dtype=np.int32)
    labels[known] = earlier.labels[old_rows[known]]
    if not known.all():
        present = np.unique(labels[known])
        centres = np.stack([vectors[known][labels[known] == c].mean(axis=0) for c in present])
        own = squared_distances(vectors[known], centres)[
            np.arange(int(known.sum())), np.searchsorted(present, labels[known])]
        new = squared_distances(vectors[~known], centres)
        nearest = new.argmin(axis=1)
        novel = int((new.min(axis=1) > np.percentile(own, NOVEL_PERCENTILE)).sum())
        if novel >= max(MIN_NOVEL, NOVEL_SHARE * len(new)):
            return None
        labels[~known] = present[nearest]
    labels, k = kmeans.relabel_by_size(labels)
    # A cluster whose members all went leaves fewer: the curve chose another k, so it goes.
    return kmeans.Clustering(k, earlier.method, labels, earlier.curve if k == earlier.k else None)


def squared_distances(vectors: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Return |v - c|^2 for every vector and centre."""
    return ((vectors * vectors).sum(axis=1)[:, None] - 2 * vectors @ centres.T
            + (centres * centres).sum(axis=1)[None, :])
