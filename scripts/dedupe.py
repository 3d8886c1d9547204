#!/usr/bin/env python
"""Move the copies the index lists for removal out of the collection, or put them back.

    python scripts/dedupe.py [--database-url URL] --move-to DIR [--dry-run]
    python scripts/dedupe.py --undo DIR/manifest.jsonl

Moves every copy that /api/duplicates/others.csv lists (neither its group's keeper nor in a
protected folder) to DIR, under the same relative path; never deletes, never touches a file
outside the indexed folder. A file is moved only while its content still matches the index
and its keeper is still there with the content indexed; anything else is left in place and
reported. Each move is written to DIR/manifest.jsonl as it happens, so --undo puts back
every file moved, even after an interrupted run. The last line is a one-line summary.
Exit status: 0 when done (some files may be left in place), 1 on a fatal error.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from dataclasses import dataclass

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from webapp import create_app  # noqa: E402
from webapp.duplicates.groups import KeepSettings, find_groups, removable, scored_members  # noqa: E402
from core.records import Build, StoredEmbedder  # noqa: E402
from core.locations import is_remote  # noqa: E402
from core.hashing import file_digest  # noqa: E402

MANIFEST = "manifest.jsonl"


@dataclass
class Move:
    path: str          # relative to the collection root
    content_hash: str
    keep: str          # the group's keeper, relative
    keep_hash: str
    score: float


def planned_moves(app) -> tuple[str, list[Move]]:
    """Return (the collection root, the copies the served index lists for removal)."""
    with app.app_context():
        build = Build.active()
        if build is None:
            raise SystemExit("error: there is no index yet: run scripts/build_index.py")
        root = app.config["IMAGE_DIR"] or build.root
        if is_remote(root):
            raise SystemExit(f"error: {root} is an object-store prefix; dedupe.py moves files "
                             "of a local folder only")
        threshold, _ = StoredEmbedder.facts(build.model_key, build.weights, build.metric)
        groups = find_groups(build, threshold, KeepSettings.from_config(app.config))
        moves = []
        for group, members in zip(groups, scored_members(build, groups)):
            keeper = members[0]
            moves += [Move(m.path, m.content_hash, keeper.path, keeper.content_hash, m.score)
                      for m in removable(group, members)]
        return os.path.realpath(root), moves


def still_indexed(root: str, path: str, content_hash: str) -> str | None:
    """Return why the file at `path` may not be moved, or None if it is as indexed."""
    full = os.path.join(root, path)
    real = os.path.realpath(full)
    if os.path.commonpath([real, root]) != root:
        return "outside the indexed folder"
    if os.path.islink(full) or not os.path.isfile(full):
        return "missing or not a regular file"
    if file_digest(full)[1] != content_hash:
        return "changed since indexing"
    return None


def move_copies(root: str, moves: list[Move], dest: str, dry_run: bool) -> tuple[int, list]:
    """Move each copy to dest (same relative path); return (moved, [(path, why left)])."""
    moved, left = 0, []
    manifest = None if dry_run else open(os.path.join(dest, MANIFEST), "a", encoding="utf-8")
    try:
        for move in moves:
            why = still_indexed(root, move.path, move.content_hash)
            keep_why = still_indexed(root, move.keep, move.keep_hash)
            target = os.path.join(dest, move.path)
            if why is None and keep_why is not None:
                why = f"its keeper {move.keep} is {keep_why}"
            if why is None and os.path.lexists(target):
                why = f"{target} exists already"
            if why is not None:
                left.append((move.path, why))
                continue
            print(f"{'would move' if dry_run else 'moving'} {move.path} "
                  f"(keeping {move.keep}, similarity {move.score:.4f})")
            if not dry_run:
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.move(os.path.join(root, move.path), target)
                manifest.write(json.dumps({"from": os.path.join(root, move.path),
                                           "to": target, "content_hash": move.content_hash,
                                           "keep": move.keep, "score": move.score}) + "\n")
                manifest.flush()
            moved += 1
    finally:
        if manifest:
            manifest.close()
    return moved, left


def undo(manifest_path: str) -> tuple[int, list]:
    """Put back every file a manifest lists; return (restored, [(path, why left)])."""
    restored, left = 0, []
    with open(manifest_path, encoding="utf-8") as f:
        entries = [json.loads(line) for line in f if line.strip()]
    for entry in entries:
        source, target = entry["to"], entry["from"]
        if os.path.lexists(target):
            left.append((target, "a file is there already"))
        elif not os.path.isfile(source):
            left.append((target, f"{source} is missing"))
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.move(source, target)
            restored += 1
    return restored, left


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument("--move-to", metavar="DIR",
                        help="folder outside the collection to move the copies into")
    action.add_argument("--undo", metavar="MANIFEST", help="put back what a run moved")
    parser.add_argument("--database-url", default=None,
                        help="the index's database (default: $DATABASE_URL, else the "
                             "embedded SQLite database)")
    parser.add_argument("--dry-run", action="store_true", help="list the moves, move nothing")
    return parser.parse_args(argv)


def report(verb: str, count: int, left: list) -> None:
    for path, why in left:
        print(f"left {path}: {why}", file=sys.stderr)
    print(f"{verb} {count} file(s); left {len(left)} in place", flush=True)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.undo:
        restored, left = undo(args.undo)
        report("put back", restored, left)
        return 0
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url} if args.database_url
                     else {})
    root, moves = planned_moves(app)
    dest = os.path.realpath(args.move_to)
    if os.path.commonpath([dest, root]) == root:
        print(f"error: --move-to {args.move_to} is inside the collection {root}; choose a "
              "folder outside it", file=sys.stderr)
        return 1
    os.makedirs(dest, exist_ok=True)
    moved, left = move_copies(root, moves, dest, args.dry_run)
    report("would move" if args.dry_run else f"moved to {dest} (undo: --undo "
           f"{os.path.join(dest, MANIFEST)})", moved, left)
    return 0


if __name__ == "__main__":
    sys.exit(main())
