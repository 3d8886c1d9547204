"""Group the active index's duplicates: exact copies and near-duplicates, transitively.

Two images belong together when they have the same content hash, or when one is among the
other's stored recommendations with a score at or above the near-duplicate threshold. The
groups are the connected components of those links, computed once per worker and build
(two queries, then union-find; kept with the served index), then served page by page.

Each group suggests the copy to keep: the highest resolution, then the largest file, then
the path the index saw first (the lowest image id: ids outlive builds). Every other member
is scored against it, so a user sees how close each copy they might delete is to the one
they keep. The site only suggests: it never moves or deletes a file.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select, text

from core.db import db
from core.records import Build, Embedding, Image, IndexedImage
from core.tiers import EXACT, NEAR_DUPLICATE

from ..serving.active_index import ServedIndex

MAX_SHOWN = 100  # images listed per group on a page; the exports list them all
CHUNK = 5_000    # values per IN (...) list: SQLite allows 32,766 parameters a statement

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
    keep: int = -1         # the gallery position of the copy to keep (see keep_order)


@dataclass
class Member:
    """An image of a group as the page and exports show it."""
    id: int
    path: str
    content_hash: str
    width: int
    height: int
    file_size: int
    position: int
    score: float = 1.0     # cosine similarity to the group's kept copy (1 for itself)
    keep: bool = False


def keep_order(member: Member) -> tuple:
    """Sort key of the copy to keep: highest resolution, largest file, first-seen path."""
    return -member.width * member.height, -member.file_size, member.id


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
    """Query the links of a build and return its duplicate groups, each with its keeper."""
    params = {"build": build.id}
    hash_of = dict(db.session.execute(EXACT_COPIES, params).all())
    first_of_hash: dict[str, int] = {}
    links = [(first_of_hash.setdefault(h, p), p) for p, h in sorted(hash_of.items())]
    if threshold is not None:
        links += db.session.execute(NEAR_LINKS, {**params, "threshold": threshold}).all()
    groups = group_links(links, hash_of)
    members = members_at(build, [p for g in groups for p in g.positions])
    for group in groups:
        group.keep = min(group.positions, key=lambda p: keep_order(members[p]))
    return groups


def members_at(build: Build, positions: Iterable[int]) -> dict[int, Member]:
    """Return {gallery position: Member} of a build, unscored, a few thousand per query."""
    positions = list(positions)
    found = {}
    for start in range(0, len(positions), CHUNK):
        rows = db.session.execute(
            select(IndexedImage.image_id, Image.path, IndexedImage.content_hash,
                   IndexedImage.width, IndexedImage.height, IndexedImage.file_size,
                   IndexedImage.position)
            .join(Image, Image.id == IndexedImage.image_id)
            .where(IndexedImage.build_id == build.id,
                   IndexedImage.position.in_(positions[start:start + CHUNK])))
        found.update((row.position, Member(*row)) for row in rows)
    return found


def scored_members(build: Build, groups: list[DuplicateGroup], limit: int | None = None
                   ) -> list[list[Member]]:
    """Return each group's members (its first `limit` and its keeper), keeper first, each
    scored against the keeper with the build's stored embeddings."""
    shown = [sorted({g.keep, *g.positions[:limit]}, key=lambda p: (p != g.keep, p))
             for g in groups]
    members = members_at(build, [p for positions in shown for p in positions])
    vectors = Embedding.unit_vectors(build.model_key,
                                     {m.content_hash for m in members.values()})
    result = []
    for positions in shown:
        keeper = members[positions[0]]
        keeper.keep = True
        for member in (members[p] for p in positions[1:]):
            # The same content is the same vector: exactly 1, whatever the arithmetic.
            if member.content_hash != keeper.content_hash:
                member.score = float(np.dot(vectors[member.content_hash],
                                            vectors[keeper.content_hash]))
        result.append([members[p] for p in positions])
    return result


def duplicate_groups(served: ServedIndex) -> list[DuplicateGroup]:
    """Return the served build's groups, computed once per worker and build."""
    if served.build is None:
        return []
    return served.derived("duplicate_groups",
                          lambda s: find_groups(s.build, s.threshold))


def page_of_groups(build: Build, groups: list[DuplicateGroup], page: int, per_page: int):
    """Return [(group, its keeper and first MAX_SHOWN members, scored)] for one page."""
    chosen = groups[(page - 1) * per_page:page * per_page]
    return list(zip(chosen, scored_members(build, chosen, MAX_SHOWN)))
