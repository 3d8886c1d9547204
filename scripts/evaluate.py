#!/usr/bin/env python
"""Compare models side by side on a labelled collection: precision, recall and mAP at k.

    python scripts/evaluate.py IMAGE_DIR --labels folders|FILE.csv
        --runs RUN[,RUN...] [--k 10] [--chart evaluation.png]

A run is `model[:weights][@metric][+whiten][+dba][/within-cluster]`, e.g. `resnet18:none`,
`efficientnet_lite0`, `efficientnet_lite0+whiten+dba` (the ranking steps a default build
takes; without them a run ranks by the raw cosine, as `--no-whiten --no-dba` does),
`efficientnet_lite0@euclidean`, `autoencoder` (trained on IMAGE_DIR, or
the one trained for it before), `autoencoder:none` (the same architecture untrained). Each run is a real
build_index.py run (the same code, options and lists the site would serve) into a private,
temporary database, so the index you serve is never touched; `/within-cluster` re-ranks each
image among its own cluster only (the articles' "search within the query's cluster"), by the
raw vectors.

Labels: `folders` takes each image's first folder under IMAGE_DIR as its label; a CSV file
has `path,label` rows (paths relative to IMAGE_DIR; images without a label are not queries
but still count as wrong answers). For each image with at least one other image of its
label: precision@k (share of its k results with its label), recall@k (share of the others of
its label among them) and AP@k (precision at each hit, over min(k, others)); the means over
those images. Prints a Markdown table, writes a PNG bar chart, and prints last one JSON line:
{"k", "results": [{"run", "model", "weights", "metric", "within_cluster", "steps", "p_at_k",
"recall_at_k", "map_at_k", "seconds"}]}.
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import sys
import tempfile
import time
from dataclasses import dataclass

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import aliased  # noqa: E402

from scripts.build_index import EXIT_FAILED, EXIT_NO_WEIGHTS  # noqa: E402
from webapp import create_app  # noqa: E402
from core.db import db, ensure_schema  # noqa: E402
from core.metrics import METRICS  # noqa: E402
from core.records import Build, Embedding, Image, IndexedImage, Recommendation  # noqa: E402
from indexer.embedders.registry import WeightsUnavailable  # noqa: E402
from indexer.embedders.registry import BACKBONES  # noqa: E402
from indexer.neighbors.small import small_top_k  # noqa: E402
from indexer.ranking.settings import RankingSettings  # noqa: E402
from indexer.runner import BuildError, BuildOptions, run_build  # noqa: E402

WITHIN_CLUSTER = "within-cluster"
STEPS = ("whiten", "dba")  # the ranking steps a run can name (indexer/ranking)
# What a run means without ":weights": ImageNet weights, or the autoencoder trained on the folder.
DEFAULT_WEIGHTS = {"autoencoder": "train"}


@dataclass(frozen=True)
class Run:
    text: str
    model: str
    weights: str
    metric: str
    within_cluster: bool
    steps: tuple[str, ...] = ()  # the ranking steps on: whiten, dba


def parse_run(text: str) -> Run:
    """Parse `model[:weights][@metric][+whiten][+dba][/within-cluster]`; raise ValueError
    with the reason."""
    rest, slash, mode = text.partition("/")
    if slash and mode != WITHIN_CLUSTER:
        raise ValueError(f"{text!r}: after '/' only {WITHIN_CLUSTER!r} is known")
    rest, *steps = rest.split("+")
    if unknown := set(steps) - set(STEPS):
        raise ValueError(f"{text!r}: unknown step {sorted(unknown)[0]!r}; "
                         f"one of {', '.join(STEPS)}")
    rest, at, metric = rest.partition("@")
    model, _, weights = rest.partition(":")
    if model not in BACKBONES:
        raise ValueError(f"{text!r}: unknown model {model!r}; one of {', '.join(BACKBONES)}")
    metric = metric if at else "cosine"
    if metric not in METRICS:
        raise ValueError(f"{text!r}: unknown metric {metric!r}; one of {', '.join(METRICS)}")
    if steps and metric != "cosine":
        raise ValueError(f"{text!r}: the ranking steps act on cosine runs only")
    return Run(text, model, weights or DEFAULT_WEIGHTS.get(model, "imagenet"), metric,
               bool(slash), tuple(steps))


def folder_labels(paths: list[str]) -> dict[str, str]:
    """Label each path by its first folder; files at the top level have none."""
    return {p: p.split("/")[0] for p in paths if "/" in p}


def csv_labels(file: str) -> dict[str, str]:
    with open(file, newline="") as f:
        return {row["path"]: row["label"] for row in csv.DictReader(f)}


def scores_at_k(lists: dict[str, list[str]], labels: dict[str, str], k: int) -> dict:
    """Return mean precision@k, recall@k and mAP@k over the images that have a label mate."""
    size: dict[str, int] = {}
    for label in labels.values():
        size[label] = size.get(label, 0) + 1
    precision, recall, average_precision = [], [], []
    for query, found in lists.items():
        label = labels.get(query)
        others = size.get(label, 0) - 1 if label is not None else 0
        if others <= 0:
            continue
        hits = [labels.get(path) == label for path in found[:k]]
        precision.append(sum(hits) / k)
        recall.append(sum(hits) / others)
        running = np.cumsum(hits)
        average_precision.append(sum(running[i] / (i + 1) for i, hit in enumerate(hits) if hit)
                                 / min(k, others))
    if not precision:
        raise ValueError("no image has another image of its label: nothing to evaluate")
    return {"p_at_k": float(np.mean(precision)), "recall_at_k": float(np.mean(recall)),
            "map_at_k": float(np.mean(average_precision)), "queries": len(precision)}


def served_lists(build_id: int) -> dict[str, list[str]]:
    """Return each image's recommendations in a build, best first, as paths."""
    similar = aliased(Image)
    rows = db.session.execute(
        select(Image.path, similar.path)
        .join(Recommendation, Recommendation.image_id == Image.id)
        .join(similar, similar.id == Recommendation.similar_id)
        .where(Recommendation.build_id == build_id)
        .order_by(Image.path, Recommendation.rank))
    lists: dict[str, list[str]] = {}
    for path, other in rows:
        lists.setdefault(path, []).append(other)
    paths = db.session.scalars(select(Image.path).join(
        IndexedImage, IndexedImage.image_id == Image.id).where(IndexedImage.build_id == build_id))
    return {path: lists.get(path, []) for path in paths}


def build_rows(build_id: int, *columns):
    """Return the rows of a build's images in gallery order: path, cluster, then `columns`."""
    build = db.session.get(Build, build_id)
    return db.session.execute(
        select(Image.path, IndexedImage.cluster, *columns)
        .join(IndexedImage, IndexedImage.image_id == Image.id)
        .join(Embedding, (Embedding.content_hash == IndexedImage.content_hash)
              & (Embedding.model_key == build.model_key))
        .where(IndexedImage.build_id == build_id)
        .order_by(IndexedImage.position)).all()


def build_vectors(build_id: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Return (paths, raw unit vectors, clusters: -1 for none) of a build, in gallery order."""
    rows = build_rows(build_id, Embedding.vector)
    vectors = np.stack([np.frombuffer(row.vector, np.float32) for row in rows])
    clusters = np.array([-1 if row.cluster is None else row.cluster for row in rows])
    return [row.path for row in rows], vectors, clusters


def build_norms(build_id: int) -> np.ndarray:
    """Return the length of each image's features in a build, in gallery order."""
    return np.array([row.norm for row in build_rows(build_id, Embedding.norm)], np.float32)


def within_cluster_lists(build_id: int, k: int) -> dict[str, list[str]]:
    """Return each image's k closest among its own cluster, by the build's metric.

    The images of a cluster are searched exactly as the job searches a collection, so the
    lists differ from the served ones only where a closer image lies in another cluster.
    """
    build = db.session.get(Build, build_id)
    paths, vectors, clusters = build_vectors(build_id)
    if build.metric != "cosine":
        vectors = vectors * build_norms(build_id)[:, None]
    lists = {}
    for cluster in np.unique(clusters):
        members = np.flatnonzero(clusters == cluster)
        ids, _ = small_top_k(vectors[members], k, build.metric)
        lists.update({paths[members[i]]: [paths[members[j]] for j in found]
                      for i, found in enumerate(ids)})
    return lists


def evaluate_run(run: Run, image_dir: str, workdir: str, k: int, progress: bool) -> tuple:
    """Build an index for `run` in the private database; return (lists, seconds)."""
    # Clusters only where the run ranks within them; never a 2-D map (nothing reads it).
    options = BuildOptions(image_dir=image_dir, thumbnail_dir=os.path.join(workdir, "thumbs"),
                           k=k, model=run.model, weights=run.weights, metric=run.metric,
                           clusters="auto" if run.within_cluster else 0, map_method="none",
                           ranking=RankingSettings(whiten="whiten" in run.steps,
                                                   dba="dba" in run.steps),
                           progress=progress)
    started = time.perf_counter()
    summary = run_build(db.session, options)
    lists = (within_cluster_lists(summary.build_id, k) if run.within_cluster
             else served_lists(summary.build_id))
    return lists, time.perf_counter() - started


def markdown(k: int, results: list[dict]) -> str:
    lines = [f"| run | precision@{k} | recall@{k} | mAP@{k} | seconds |",
             "| --- | --- | --- | --- | --- |"]
    lines += [f"| `{r['run']}` | {r['p_at_k']:.3f} | {r['recall_at_k']:.3f} | "
              f"{r['map_at_k']:.3f} | {r['seconds']:.1f} |" for r in results]
    return "\n".join(lines)


def bar_chart(k: int, results: list[dict], path: str) -> None:
    """Save precision, recall and mAP of each run as grouped bars."""
    import matplotlib
    matplotlib.use("Agg")  # no display: a file only
    import matplotlib.pyplot as plt
    names = [("p_at_k", f"precision@{k}"), ("recall_at_k", f"recall@{k}"),
             ("map_at_k", f"mAP@{k}")]
    x = np.arange(len(results))
    width = 0.8 / len(names)
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(results)), 4))
    for i, (key, label) in enumerate(names):
        ax.bar(x + (i - 1) * width, [r[key] for r in results], width, label=label)
    ax.set_xticks(x, [r["run"] for r in results], rotation=20, ha="right")
    ax.set_ylim(0, 1)
    ax.set_ylabel("mean over queries")
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(names), frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image_dir")
    parser.add_argument("--labels", default="folders",
                        help="folders (each image's first folder) or a CSV of path,label")
    parser.add_argument("--runs", required=True,
                        help="comma-separated model[:weights][@metric][/within-cluster]")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--chart", default="evaluation.png", help="where the PNG goes")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.k < 1:
        parser.error("--k must be at least 1")
    try:
        args.runs = [parse_run(text) for text in args.runs.split(",") if text]
    except ValueError as exc:
        parser.error(str(exc))
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    image_dir = os.path.abspath(args.image_dir)
    results = []
    with tempfile.TemporaryDirectory() as workdir:
        app = create_app({"SQLALCHEMY_DATABASE_URI":
                          f"sqlite:///{os.path.join(workdir, 'evaluate.sqlite3')}"})
        try:
            with app.app_context():
                ensure_schema(db.engine)
                for run in args.runs:
                    lists, seconds = evaluate_run(run, image_dir, workdir, args.k,
                                                  not args.no_progress)
                    labels = (folder_labels(list(lists)) if args.labels == "folders"
                              else csv_labels(args.labels))
                    scores = scores_at_k(lists, labels, args.k)
                    results.append({"run": run.text, "model": run.model,
                                    "weights": run.weights, "metric": run.metric,
                                    "within_cluster": run.within_cluster,
                                    "steps": "+".join(run.steps) or "raw", **scores,
                                    "seconds": round(seconds, 2)})
                    print(f"{run.text}: precision@{args.k} {scores['p_at_k']:.3f}",
                          file=sys.stderr)
                db.engine.dispose()
        except WeightsUnavailable as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_NO_WEIGHTS
        except (BuildError, ValueError, OSError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
    print(markdown(args.k, results))
    bar_chart(args.k, results, args.chart)
    print(f"chart: {args.chart}")
    print(json.dumps({"k": args.k, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
