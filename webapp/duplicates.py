"""Group the active index's duplicates: exact copies and near-duplicates, transitively.

Two images belong together when they have the same content hash, or when one is among the
other's stored recommendations with a score at or above the near-duplicate threshold. The
groups are the connected components of those links, computed once per worker and build
(two queries, then union-find; kept with the served index), then served page by page.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text

from .active_index import ServedIndex
from .db import db
from .models import Build
from .tiers import EXACT, NEAR_DUPLICATE

MAX_SHOWN = 100  # images listed per group; random weights can chain hundreds together

EXACT_COPIES = text("""
    SELECT position, content_hash FROM indexed_images
    WHERE build_id = :build AND content_hash IN (
        SELECT content_hash FROM indexed_images WHERE build_id = :build
        GROUP BY content_hash HAVING count(*) > 1)""")
NEAR_LINKS = text("""
    SELECT a.position, b.position FROM recommendations r
    JOIN indexed_images a ON a.build_id = r.build_id AND a.image_id = r.image_id
    JOIN indexed_images b ON b.build_id = r.build_id AND b.image_id = r.similar_id
    WHERE r.build_id = :build AND r.score >= :threshold""")


@dataclass
class DuplicateGroup:
    tier: str              # "exact" when every member has the same content, else near-duplicate
    positions: list[int]   # gallery positions, in gallery order


def _find(parent: dict, node: int) -> int:
    while parent.setdefault(node, node) != node:
        parent[node] = parent[parent[node]]  # path halving keeps the trees flat
        node = parent[node]
    return node


def group_links(links, hash_of: dict[int, str]) -> list[DuplicateGroup]:
    """Return the connected components of `links` (position pairs), in gallery order."""
    parent: dict[int, int] = {}
    for a, b in links:
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    members: dict[int, list[int]] = {}
    for node in parent:
        members.setdefault(_find(parent, node), []).append(node)
    groups = []
    for root in sorted(members):
        positions = sorted(members[root])
        same = len({hash_of.get(p) for p in positions}) == 1 and positions[0] in hash_of
        groups.append(DuplicateGroup(EXACT if same else NEAR_DUPLICATE, positions))
    return groups


def find_groups(build: Build, threshold: float | None) -> list[DuplicateGroup]:
    """Query the links of a build and return its duplicate groups."""
    params = {"build": build.id}
    hash_of = dict(db.session.execute(EXACT_COPIES, params).all())
    first_of_hash: dict[str, int] = {}
    links = [(first_of_hash.setdefault(h, p), p) for p, h in sorted(hash_of.items())]
    if threshold is not None:
        links += db.session.execute(NEAR_LINKS, {**params, "threshold": threshold}).all()
    return group_links(links, hash_of)


def duplicate_groups(served: ServedIndex) -> list[DuplicateGroup]:
    """Return the served build's groups, computed once per worker and build."""
    if served.build is None:
        return []
    return served.derived("duplicate_groups",
                          lambda s: find_groups(s.build, s.threshold))


def page_of_groups(build: Build, groups: list[DuplicateGroup], page: int, per_page: int):
    """Return [(group, rows of its first MAX_SHOWN images)] for one page, in one query."""
    chosen = groups[(page - 1) * per_page:page * per_page]
    rows = build.at_positions(p for g in chosen for p in g.positions[:MAX_SHOWN])
    return [(g, [rows[p] for p in g.positions[:MAX_SHOWN]]) for g in chosen]
