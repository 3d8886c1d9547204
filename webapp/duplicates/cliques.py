"""Form duplicate groups in which every member is a copy of every other: no chaining.

Connected components put A and C together because A ~ B and B ~ C, however unlike A and C
are; on a real collection that made groups of a hundred different scenes. Here a group grows
only by members that score at least the threshold against each member it has, like
dupeGuru's rule:

1. the copy pairs the job stored (each image's copies among its nearest) are scored with
   the stored unit vectors and sorted best first, ties by gallery position, which is path
   order: the same groups on every run;
2. a pair of two ungrouped contents starts a group; a content joins a group, and two groups
   merge, only when every pair across them is a copy pair (the job's rule: a cosine at or
   above the threshold and the same pixels, core/pixel_match.py);
3. each content belongs to one group at most.

Files of the same content are one node: an exact copy is a copy of whatever its twin is.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable


class PairScores:
    """Cosine similarities of contents from their unit vectors, each pair computed once."""

    def __init__(self, vectors: dict):
        self.vectors = vectors
        self.known: dict[tuple[str, str], float] = {}

    def __call__(self, a: str, b: str) -> float:
        if a == b:
            return 1.0
        key = (a, b) if a < b else (b, a)
        if key not in self.known:
            self.known[key] = float(self.vectors[a] @ self.vectors[b])
        return self.known[key]


def group_contents(pairs: Iterable[tuple[str, str]], score: Callable[[str, str], float],
                   first_position: dict[str, int]) -> list[list[str]]:
    """Return groups of contents (hashes), every pair inside one a copy pair.

    `pairs` are the copy pairs (hash, hash), in any order and either way round, as the job
    found them (neighbors/distinct.py: cosine at or above the threshold and the same
    pixels); `score` orders them; `first_position` gives each hash's first gallery
    position, for ties and for order.
    """
    copies = {frozenset(pair) for pair in pairs}

    def is_copy(a: str, b: str) -> bool:
        return a == b or frozenset((a, b)) in copies

    order = first_position.__getitem__
    candidates = {tuple(sorted(pair, key=order)) for pair in pairs if pair[0] != pair[1]}
    scored = [(score(a, b), a, b) for a, b in candidates]
    # Rounded for the order only: a last-bit difference between CPUs must not reorder ties.
    scored.sort(key=lambda t: (-round(t[0], 6), order(t[1]), order(t[2])))
    group_of: dict[str, int] = {}
    groups: list[list[str]] = []
    for value, a, b in scored:
        ga, gb = group_of.get(a), group_of.get(b)
        if ga is not None and ga == gb:
            continue
        members_a = groups[ga] if ga is not None else [a]
        members_b = groups[gb] if gb is not None else [b]
        if not all(is_copy(x, y) for x in members_a for y in members_b):
            continue
        existing = [g for g in (ga, gb) if g is not None]
        target = min(existing) if existing else len(groups)
        if not existing:
            groups.append([])
        for source in existing:
            groups[source] = []
        groups[target] = members_a + members_b  # disjoint: a content is in one group
        for member in groups[target]:
            group_of[member] = target
    found = [sorted(g, key=order) for g in groups if g]
    return sorted(found, key=lambda g: order(g[0]))


def weakest_pair(contents: list[str], score: Callable[[str, str], float]
                 ) -> tuple[float, str, str]:
    """Return (score, a, b) of a group's least alike pair of contents (1.0 for one content)."""
    weakest = (1.0, contents[0], contents[0])
    for i, a in enumerate(contents):
        for b in contents[i + 1:]:
            if score(a, b) < weakest[0]:
                weakest = (score(a, b), a, b)
    return weakest


def centrality(contents: list[str], counts: dict[str, int],
               score: Callable[[str, str], float]) -> dict[str, float]:
    """Return each content's mean similarity to the group's other files (`counts` per content).

    The source of a set of edits is the file they all start from: it is the most alike to
    the rest. A content's own other files count as 1.
    """
    total = sum(counts[c] for c in contents)
    if total < 2:
        return {c: 1.0 for c in contents}
    return {c: (sum(counts[o] * score(c, o) for o in contents) - 1.0) / (total - 1)
            for c in contents}
