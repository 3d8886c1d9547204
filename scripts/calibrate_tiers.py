#!/usr/bin/env python
"""Re-run the near-duplicate calibration of a model; print it, and optionally store it.

The job calibrates each new model once, on drawn pictures (see
indexer/embedders/calibration.py). This script re-runs that calibration, on more drawn
pictures or on a folder of your own distinct pictures, and with --save replaces the
threshold that the site uses for that model's indexes.

    python scripts/calibrate_tiers.py [--images DIR] [--pictures 16] [--weights none]
        [--database-url URL] [--save]
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from PIL import Image  # noqa: E402

from webapp import create_app  # noqa: E402
from indexer.embedders.registry import (BACKBONES, DEFAULT_INVARIANCE, DEFAULT_MODEL,  # noqa: E402
                                        INVARIANCE_HELP, INVARIANCES)
from indexer.scan import scan  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", help="folder of distinct pictures (default: drawn ones)")
    parser.add_argument("--pictures", type=int, default=None,
                        help="how many pictures: the first of --images (16), or drawn ones "
                             "(default: the job's set, 16 drawn and 8 photographs)")
    parser.add_argument("--model", choices=list(BACKBONES), default=DEFAULT_MODEL)
    parser.add_argument("--weights", default="imagenet", help="as for build_index.py")
    parser.add_argument("--invariance", choices=list(INVARIANCES), default=DEFAULT_INVARIANCE,
                        help=INVARIANCE_HELP)
    parser.add_argument("--precision", choices=["auto", "fp32", "bf16"], default="auto")
    parser.add_argument("--database-url", default=None,
                        help="default: $DATABASE_URL, else SQLite in the instance folder")
    parser.add_argument("--save", action="store_true",
                        help="store the threshold for this model in the database")
    return parser.parse_args(argv)


def load_pictures(folder: str, count: int) -> list[Image.Image]:
    files, _ = scan(folder)
    pictures = []
    for f in files[:count]:
        with Image.open(f.full_path) as img:
            pictures.append(img.convert("RGB"))
    return pictures


def report_lines(result: dict) -> list[str]:
    lines = [f"{'pair (with the original)':<42} {'min':>7} {'median':>7} {'max':>7} "
             f"{'cosine':>7} {'called':>7}"]
    for name, stats in [*result["edits"].items(),
                        *((f"part: {n}", s) for n, s in result.get("parts", {}).items())]:
        lines.append(f"{name:<42} {stats['min']:7.4f} {stats['median']:7.4f} "
                     f"{stats.get('max', 0):7.4f} {stats['recall']:7.0%} "
                     f"{called_text(stats)}")
    distinct = result["distinct"]
    lines.append(f"distinct pairs ({distinct['pairs']}): max {distinct['max']:.4f}, "
                 f"99th percentile {distinct['p99']:.4f}, median {distinct['median']:.4f}, "
                 f"called duplicates {called_text(distinct)}")
    lines.append(f"near-duplicate threshold: {result['threshold']:.6f} "
                 f"({result['pictures']} pictures)")
    return lines


def called_text(stats: dict) -> str:
    """Return "called/pairs": how many pairs the whole copy rule calls duplicates."""
    return "-" if stats.get("called") is None else f"{stats['called']}/{stats['pairs']}"


def main(argv=None) -> int:
    args = parse_args(argv)
    from indexer.embedders.calibration import (calibrate, calibration_pictures,
                                               synthetic_pictures)
    from indexer.embedders.choice import choose
    from indexer.embedders.engine import load_engine
    from indexer.embedders.measure import settle
    from indexer.embedders.registry import WeightsUnavailable
    try:
        # The embedder the job runs on this machine (the engine and precision it measured):
        # its model key is the one the job's builds are stored under.
        choice = settle(choose(args.weights, "auto", args.precision, "auto", args.model,
                               args.invariance))
        embedder = load_engine(choice)[0]
    except WeightsUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    if args.images:
        pictures = load_pictures(args.images, args.pictures or 16)
    else:
        pictures = synthetic_pictures(args.pictures) if args.pictures else calibration_pictures()
    if len(pictures) < 2:
        print("error: calibration needs at least two pictures", file=sys.stderr)
        return 1
    result = calibrate(embedder, pictures)
    print(f"model {embedder.model_key} ({embedder.precision})")
    print("\n".join(report_lines(result)))
    if args.save:
        return save(args.database_url, embedder.model_key, result)
    return 0


def save(database_url: str | None, model_key: str, result: dict) -> int:
    from core.db import db
    from core.records import StoredEmbedder
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url} if database_url else {})
    with app.app_context():
        stored = db.session.get(StoredEmbedder, model_key)
        if stored is None:
            print(f"error: no index of this database uses {model_key}; run build_index.py "
                  "with these weights first", file=sys.stderr)
            return 1
        stored.near_duplicate_threshold, stored.calibration = result["threshold"], result
        db.session.commit()
    print(f"saved: indexes built with {model_key} now use {result['threshold']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
