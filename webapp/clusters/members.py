"""The served build's clusters: who belongs to each, found once per worker and build.

The job stored each image's cluster with the build (`indexed_images.cluster`). One query
reads them all in gallery order; the members of each cluster, as gallery positions, stay
with the served index, so any page of any cluster is a slice and one look-up by position.
"""
from __future__ import annotations

import numpy as np
from sqlalchemy import text

from core.db import db
from core.records import Build, ClusterCurve

from ..serving.active_index import ServedIndex

STRIP = 8  # thumbnails shown per cluster on /clusters and in /api/clusters

CLUSTER_POSITIONS = text("""
    SELECT cluster, position FROM indexed_images
    WHERE build_id = :build AND cluster IS NOT NULL ORDER BY position""")


def load_members(build: Build) -> dict[int, np.ndarray]:
    """Return {cluster: its members' gallery positions, ascending}, clusters in order."""
    rows = np.array(db.session.execute(CLUSTER_POSITIONS, {"build": build.id}).all(),
                    dtype=np.int64).reshape(-1, 2)
    order = np.argsort(rows[:, 0], kind="stable")  # stable: each cluster keeps gallery order
    labels, positions = rows[order, 0], rows[order, 1]
    found, starts = np.unique(labels, return_index=True)
    return {int(c): members for c, members in zip(found, np.split(positions, starts[1:]))}


def cluster_members(served: ServedIndex) -> dict[int, np.ndarray]:
    """Return the served build's clusters, computed once per worker and build."""
    if served.build is None or not served.build.cluster_count:
        return {}
    return served.derived("cluster_members", lambda s: load_members(s.build))


def strips(build: Build, members: dict[int, np.ndarray], size: int = STRIP) -> dict[int, list]:
    """Return {cluster: rows of its first `size` images}, for every cluster in one query."""
    first = {c: [int(p) for p in positions[:size]] for c, positions in members.items()}
    rows = build.at_positions(p for shown in first.values() for p in shown)
    return {c: [rows[p] for p in shown] for c, shown in first.items()}


def page_of_cluster(build: Build, positions: np.ndarray, page: int, per_page: int) -> list:
    """Return the rows of one page of a cluster's members, in gallery order."""
    chosen = [int(p) for p in positions[(page - 1) * per_page:page * per_page]]
    rows = build.at_positions(chosen)
    return [rows[p] for p in chosen]


def curve_part(build: Build, column):
    """Return the PNG or the numbers (ks, inertias, silhouettes, elbow, chosen) of the curve
    that chose the build's k; None when k was not chosen by one (fixed, none)."""
    return db.session.scalar(db.select(column).where(ClusterCurve.build_id == build.id))
