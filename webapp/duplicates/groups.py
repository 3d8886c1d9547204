"""Group the active index's duplicates, choose each group's original, serve them by page.

Candidates are files of the same content and the copy pairs the job stored (a cosine at or
above the near-duplicate threshold and the same pixels); cliques.py forms groups
from them in which every pair is a copy (no chaining), and keeper.py picks each group's
original by the configured rules. Computed once per worker and build (three queries and the group
members' vectors, kept with the served index), then served page by page. The site only
suggests: scripts/dedupe.py moves what it lists, and can put it back.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from flask import current_app
from sqlalchemy import select, text

from core.db import db
from core.records import Build, Embedding, Image, IndexedImage
from core.tiers import EXACT, NEAR_DUPLICATE

from ..serving.active_index import ServedIndex
from . import keeper
from .cliques import PairScores, centrality, group_contents, weakest_pair

MAX_SHOWN = 100  # images listed per group on a page; the exports list them all
CHUNK = 5_000    # values per IN (...) list: SQLite allows 32,766 parameters a statement

EXACT_COPIES = text("""
    SELECT position, content_hash FROM indexed_images
    WHERE build_id = :build AND content_hash IN (
        SELECT content_hash FROM indexed_images WHERE build_id = :build
        GROUP BY content_hash HAVING count(*) > 1)""")
COPY_PAIRS = text("""
    SELECT a.position, a.content_hash, b.position, b.content_hash FROM related_images r
    JOIN indexed_images a ON a.build_id = r.build_id AND a.image_id = r.image_id
    JOIN indexed_images b ON b.build_id = r.build_id AND b.image_id = r.similar_id
    WHERE r.build_id = :build AND r.kind = 'copy' AND a.content_hash <> b.content_hash""")


@dataclass
class DuplicateGroup:
    tier: str              # "exact" when every member has the same content, else near-duplicate
    positions: list[int]   # gallery positions, in gallery order
    keep: int = -1         # the gallery position of the copy to keep (keeper.py)
    reason: str = ""       # why that one
    weakest: tuple[float, int, int] = (1.0, -1, -1)  # the least alike pair: score, positions
    scores: dict[int, float] = field(default_factory=dict)  # position: cosine to the keeper
    protected: set[int] = field(default_factory=set)  # positions never listed for removal


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
    format: str | None = None
    jpeg_quality: int | None = None
    captured_at: datetime | None = None
    modified_at: datetime | None = None
    score: float = 1.0     # cosine similarity to the group's kept copy (1 for itself)
    keep: bool = False
    protected: bool = False

    def origin(self, centrality: float, best: float, folders: tuple[str, ...]
               ) -> keeper.Origin:
        return keeper.Origin(self.path, self.width, self.height, self.file_size, self.format,
                             self.jpeg_quality, self.captured_at, self.modified_at,
                             centrality, best - centrality,
                             keeper.is_protected(self.path, folders))


@dataclass(frozen=True)
class KeepSettings:
    rules: tuple[str, ...] = keeper.DEFAULT_RULES
    protected: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config) -> KeepSettings:
        return cls(config["DUPLICATE_KEEP_RULES"], config["DUPLICATE_PROTECTED"])


def find_groups(build: Build, threshold: float | None,
                settings: KeepSettings = KeepSettings()) -> list[DuplicateGroup]:
    """Query a build's candidates and return its duplicate groups, each with its keeper."""
    params = {"build": build.id}
    positions_of: dict[str, list[int]] = {}
    for position, content in db.session.execute(EXACT_COPIES, params):
        positions_of.setdefault(content, []).append(position)
    pairs = []
    if threshold is not None:  # else only exact copies (random weights, another metric)
        for pa, ha, pb, hb in db.session.execute(COPY_PAIRS, params):
            positions_of.setdefault(ha, []).append(pa)
            positions_of.setdefault(hb, []).append(pb)
            pairs.append((ha, hb))
    positions_of = {h: sorted(set(p)) for h, p in positions_of.items()}
    first = {h: p[0] for h, p in positions_of.items()}
    score = PairScores(Embedding.unit_vectors(build.model_key, {h for pair in pairs
                                                                for h in pair}))
    near = group_contents(pairs, score, first) if pairs else []
    grouped = {h for contents in near for h in contents}
    exact = [[h] for h, p in positions_of.items() if len(p) > 1 and h not in grouped]
    contents_of = sorted(near + exact, key=lambda contents: first[contents[0]])
    members = members_at(build, [p for c in contents_of for h in c for p in positions_of[h]])
    return [make_group(contents, positions_of, members, score, settings)
            for contents in contents_of]


def make_group(contents: list[str], positions_of: dict[str, list[int]],
               members: dict[int, Member], score: PairScores,
               settings: KeepSettings) -> DuplicateGroup:
    """Return one group with its keeper, why, its weakest pair and scores to the keeper."""
    positions = sorted(p for h in contents for p in positions_of[h])
    central = centrality(contents, {h: len(positions_of[h]) for h in contents}, score)
    best = max(central.values())
    origins = [members[p].origin(central[members[p].content_hash], best, settings.protected)
               for p in positions]
    chosen, reason = keeper.choose(origins, settings.rules)
    keep = positions[chosen]
    kept = members[keep].content_hash
    value, a, b = weakest_pair(contents, score)
    same = len(positions_of[a]) > 1 and a == b  # one content: an exact pair of its files
    weakest = (value, positions_of[a][0], positions_of[b][1 if same else 0])
    return DuplicateGroup(EXACT if len(contents) == 1 else NEAR_DUPLICATE, positions, keep,
                          reason, weakest,
                          {p: score(members[p].content_hash, kept) for p in positions},
                          {p for p, o in zip(positions, origins) if o.protected})


def members_at(build: Build, positions: Iterable[int]) -> dict[int, Member]:
    """Return {gallery position: Member} of a build, unscored, a few thousand per query."""
    positions = list(positions)
    found = {}
    for start in range(0, len(positions), CHUNK):
        rows = db.session.execute(
            select(IndexedImage.image_id, Image.path, IndexedImage.content_hash,
                   IndexedImage.width, IndexedImage.height, IndexedImage.file_size,
                   IndexedImage.position, IndexedImage.format, IndexedImage.jpeg_quality,
                   IndexedImage.captured_at, IndexedImage.modified_at)
            .join(Image, Image.id == IndexedImage.image_id)
            .where(IndexedImage.build_id == build.id,
                   IndexedImage.position.in_(positions[start:start + CHUNK])))
        found.update((row.position, Member(*row)) for row in rows)
    return found


def scored_members(build: Build, groups: list[DuplicateGroup], limit: int | None = None
                   ) -> list[list[Member]]:
    """Return each group's members (its first `limit` and its keeper), keeper first, each
    with its score against the keeper and whether it is protected."""
    shown = [sorted({g.keep, *g.positions[:limit]}, key=lambda p: (p != g.keep, p))
             for g in groups]
    members = members_at(build, [p for positions in shown for p in positions])
    result = []
    for group, positions in zip(groups, shown):
        for p in positions:
            members[p].score, members[p].keep = group.scores[p], p == group.keep
            members[p].protected = p in group.protected
        result.append([members[p] for p in positions])
    return result


def duplicate_groups(served: ServedIndex) -> list[DuplicateGroup]:
    """Return the served build's groups, computed once per worker and build."""
    if served.build is None:
        return []
    settings = KeepSettings.from_config(current_app.config)
    return served.derived("duplicate_groups",
                          lambda s: find_groups(s.build, s.threshold, settings))


def page_of_groups(build: Build, groups: list[DuplicateGroup], page: int, per_page: int):
    """Return [(group, its keeper and first MAX_SHOWN members, scored)] for one page."""
    chosen = groups[(page - 1) * per_page:page * per_page]
    return list(zip(chosen, scored_members(build, chosen, MAX_SHOWN)))


def removable(group: DuplicateGroup, members: list[Member]) -> list[Member]:
    """Return the members a clean-up would move: neither the keeper nor protected."""
    return [m for m in members if not m.keep and not m.protected]
