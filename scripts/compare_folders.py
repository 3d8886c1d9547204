#!/usr/bin/env python
"""Find, for each image of folder A, its best matches in folder B (not duplicates within one).

    python scripts/compare_folders.py A B [--model M] [--weights W] [--k 5]
        [--out FILE.csv|FILE.json] [--database-url URL]

Prints (or writes to --out) one row per match, `a,b,score,tier`, each image of A's matches
best first, ties in B's path order; tiers as on the site (exact, near-duplicate, similar).
Embeddings are the job's: read from and added to the database's embedding store (by content
hash and model key), so images the job or an earlier comparison embedded are not embedded
again. Unreadable files are skipped with their reason, as in the job. Exit status as
build_index.py's: 0, 1 on a fatal error, 3 when the weights cannot be had.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from scripts.build_index import EXIT_FAILED, EXIT_NO_WEIGHTS  # noqa: E402
from webapp import create_app  # noqa: E402
from core.db import db, ensure_schema  # noqa: E402
from indexer import store  # noqa: E402
from indexer.embedders.registry import WeightsUnavailable  # noqa: E402
from indexer.embedders.choice import choose  # noqa: E402
from core.records import StoredEmbedder  # noqa: E402
from indexer.embedders.engine import load_engine  # noqa: E402
from indexer.embedders.model_files import ensure_stored  # noqa: E402
from indexer.embedders.registry import (BACKBONES, DEFAULT_INVARIANCE, DEFAULT_MODEL,  # noqa: E402
                                        INVARIANCE_HELP, INVARIANCES)
from indexer.embed import embed_new  # noqa: E402
from indexer.runner import BuildOptions  # noqa: E402
from indexer.scan import Skip, hash_files, scan  # noqa: E402
from core.tiers import tier  # noqa: E402

FIELDS = ("a", "b", "score", "tier")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("folder_a")
    parser.add_argument("folder_b")
    parser.add_argument("--model", choices=list(BACKBONES), default=DEFAULT_MODEL)
    parser.add_argument("--weights", default="imagenet", help="as for build_index.py")
    parser.add_argument("--invariance", choices=list(INVARIANCES), default=DEFAULT_INVARIANCE,
                        help=INVARIANCE_HELP)
    parser.add_argument("--k", type=int, default=5, help="matches in B per image of A")
    parser.add_argument("--out", help="write FILE.csv or FILE.json instead of CSV on stdout")
    parser.add_argument("--database-url", default=None,
                        help="the embedding store: default $DATABASE_URL, else the embedded "
                             "SQLite database")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    if args.out and os.path.splitext(args.out)[1] not in (".csv", ".json"):
        parser.error("--out must end in .csv or .json")
    return args


def embedded_folder(session, folder: str, embedder, progress: bool):
    """Return (files, their unit vectors, skips, how many were embedded now) of a folder."""
    root = os.path.abspath(folder)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"no such folder: {folder}")
    files, skips = scan(root)
    files, unreadable = hash_files(files)
    known = store.stored_embeddings(session, embedder.model_key)
    options = BuildOptions(root, thumbnail_dir="", progress=progress)  # no thumbnails
    embedded, failed = embed_new(session, files, known, embedder, options)
    good = [f for f in files if f.content_hash not in failed]
    skips += unreadable + [Skip(f.path, failed[f.content_hash]) for f in files
                           if f.content_hash in failed]
    vectors = np.stack([known[f.content_hash].unit() for f in good]) \
        if good else np.empty((0, 0), np.float32)
    return good, vectors, skips, embedded


def best_matches(a_files, a_vectors, b_files, b_vectors, k: int, threshold) -> list[dict]:
    """Return each image of A's k best images of B, best first, ties in B's path order."""
    rows = []
    kk = min(k, len(b_files))
    if kk == 0:
        return rows
    for start in range(0, len(a_files), 1024):  # a block of A at a time: bounded memory
        scores = a_vectors[start:start + 1024] @ b_vectors.T
        for a, row in zip(a_files[start:start + 1024], scores):
            order = np.lexsort((np.arange(len(row)), -row))[:kk]
            for j in order:
                score = float(np.clip(row[j], -1.0, 1.0))
                same = a.content_hash == b_files[j].content_hash
                rows.append({"a": a.path, "b": b_files[j].path, "score": round(score, 6),
                             "tier": tier(score, same, threshold)})
    return rows


def write(rows: list[dict], out: str | None) -> None:
    if out and out.endswith(".json"):
        with open(out, "w") as f:
            json.dump({"matches": rows}, f, indent=1)
        return
    with (open(out, "w", newline="") if out else sys.stdout) as f:
        writer = csv.DictWriter(f, FIELDS)
        writer.writeheader()
        writer.writerows(rows)


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url} if args.database_url
                     else {})
    try:
        choice = choose(args.weights, model=args.model, invariance=args.invariance)
        embedder, files, _ = load_engine(choice)
        with app.app_context():
            ensure_schema(db.engine)
            # The tiers are the site's: the threshold stored (or recalibrated) for this model.
            ensure_stored(db.session, choice.model_key, choice.label, files)
            threshold, _ = StoredEmbedder.facts(choice.model_key, choice.label)
            a = embedded_folder(db.session, args.folder_a, embedder, not args.no_progress)
            b = embedded_folder(db.session, args.folder_b, embedder, not args.no_progress)
    except WeightsUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_WEIGHTS
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    for skip in a[2] + b[2]:
        print(f"skipped {skip.path}: {skip.reason}", file=sys.stderr)
    write(best_matches(a[0], a[1], b[0], b[1], args.k, threshold), args.out)
    embedded = a[3] + b[3]
    print(f"compared {len(a[0])} images of A with {len(b[0])} of B, skipped "
          f"{len(a[2]) + len(b[2])} (embedded {embedded}, the rest from the store)",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
