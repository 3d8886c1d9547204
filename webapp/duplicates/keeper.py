"""Choose the copy to keep in a duplicate group: the original a user would keep.

Copies in real collections are smaller, re-encoded at a lower quality, lightly cropped,
colour-edited and saved again (often at a higher quality, so a larger file), or mirrored.
The rules, in the order a setting gives (DUPLICATE_KEEP_RULES), compare what tells them apart:

- pixels:   the most pixels (a resized or cropped copy has fewer);
- captured: the earliest EXIF capture time, files without one after those with it (a
            camera writes it; a copy made by a script or a web service usually drops it);
- central:  the members the others are most alike to, within CENTRAL_TOLERANCE of the
            best: every edit starts from the original, so it sits in the middle of them,
            while a colour-edited copy sits at the edge (the tolerance keeps a re-encoded
            copy, as central as its original to the third decimal, from winning by noise);
- quality:  a lossless format above any JPEG, then the JPEG quality its tables imply
            (after `central`: a colour edit saved at quality 98 is not better than its
            quality-92 original);
- modified: the oldest file modification time;
- path:     the shorter path ("IMG_1.jpg" before "IMG_1 (copy).jpg"), then alphabetical;
- size:     the larger file (not in the default order: a colour edit saved at a higher
            quality is a larger file than its original).

Files under a protected folder (DUPLICATE_PROTECTED) come before all others and are never
listed for removal. Each group says which rule chose its keeper, against which runner-up.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from core.picture_facts import LOSSLESS

DEFAULT_RULES = ("pixels", "captured", "central", "quality", "modified", "path")
CENTRAL_TOLERANCE = 0.01
FAR_FUTURE = datetime.max


@dataclass
class Origin:
    """What the rules read of a member."""
    path: str
    width: int
    height: int
    file_size: int
    format: str | None = None
    jpeg_quality: int | None = None
    captured_at: datetime | None = None
    modified_at: datetime | None = None
    centrality: float = 1.0   # mean cosine to the group's other members
    central_gap: float = 0.0  # how far below the group's most central member
    protected: bool = False

    @property
    def pixels(self) -> int:
        return self.width * self.height


def quality_rank(origin: Origin) -> int:
    """Return 101 for a lossless format, the JPEG quality for a JPEG, 0 when unknown."""
    if origin.format in LOSSLESS:
        return 101
    return origin.jpeg_quality or 0


# rule -> (sort key, lower first; what the reason says of a member's value)
RULES = {
    "pixels": (lambda o: -o.pixels, lambda o: f"{o.width} x {o.height} pixels"),
    "captured": (lambda o: o.captured_at or FAR_FUTURE,
                 lambda o: time_text(o.captured_at, "no capture time")),
    "central": (lambda o: int(o.central_gap / CENTRAL_TOLERANCE),
                lambda o: f"mean similarity {o.centrality:.3f} to the others"),
    "quality": (lambda o: -quality_rank(o), lambda o: quality_text(o)),
    "modified": (lambda o: o.modified_at or FAR_FUTURE,
                 lambda o: time_text(o.modified_at, "no file time")),
    "path": (lambda o: (len(o.path), o.path), lambda o: o.path),
    "size": (lambda o: -o.file_size, lambda o: f"{o.file_size:,} bytes"),
}
TITLES = {"pixels": "most pixels", "captured": "taken first", "central": "most central",
          "quality": "highest quality", "modified": "oldest file", "path": "shortest path",
          "size": "largest file"}


def quality_text(origin: Origin) -> str:
    if origin.format in LOSSLESS:
        return f"{origin.format} (lossless)"
    if origin.jpeg_quality:
        return f"JPEG quality {origin.jpeg_quality}"
    return f"{origin.format or 'unknown format'}, quality unknown"


def time_text(when: datetime | None, missing: str) -> str:
    """Return a time to the millisecond: files copied in one go differ by less than a second."""
    return f"{when:%Y-%m-%d %H:%M:%S.%f}"[:-3] if when else missing


def parse_rules(text: str | None) -> tuple[str, ...]:
    """Return the rule order a setting names ("pixels,central,..."); raise on unknown ones."""
    if not text:
        return DEFAULT_RULES
    rules = tuple(r.strip() for r in text.split(",") if r.strip())
    unknown = [r for r in rules if r not in RULES]
    if unknown or not rules:
        raise ValueError(f"DUPLICATE_KEEP_RULES: unknown rule(s) {', '.join(unknown) or '-'}; "
                         f"choose from {', '.join(RULES)}")
    return rules


def parse_folders(text: str | None) -> tuple[str, ...]:
    """Return protected folders as path prefixes ("originals/"), from "originals,archive"."""
    return tuple(f.strip().strip("/") + "/" for f in (text or "").split(",")
                 if f.strip().strip("/"))


def is_protected(path: str, folders: tuple[str, ...]) -> bool:
    return any(path.startswith(folder) for folder in folders)


def sort_key(origin: Origin, rules: tuple[str, ...]) -> tuple:
    """Return the key that orders a group's members, the one to keep first."""
    return (not origin.protected, *(RULES[rule][0](origin) for rule in rules), origin.path)


def choose(origins: list[Origin], rules: tuple[str, ...]) -> tuple[int, str]:
    """Return (index of the member to keep, why: the rule that set it above the runner-up)."""
    order = sorted(range(len(origins)), key=lambda i: sort_key(origins[i], rules))
    keep = order[0]
    if len(order) == 1:
        return keep, "the only member"
    return keep, reason(origins[keep], origins[order[1]], rules)


def reason(keeper: Origin, runner_up: Origin, rules: tuple[str, ...]) -> str:
    """Say which rule put `keeper` before `runner_up`, with both values."""
    if keeper.protected and not runner_up.protected:
        return "in a protected folder"
    for rule in rules:
        key, describe = RULES[rule]
        if key(keeper) != key(runner_up):
            return f"{TITLES[rule]}: {describe(keeper)} against {describe(runner_up)}"
    return "the same on every rule: first by path"
