#!/usr/bin/env python
"""Tune the ranking steps: precision@k of each setting on a labelled collection's vectors.

    python benchmarks/ranking_sweep.py DATABASE_URL [--k 10] [--small 10,30] [--repeats 5]
        [--grid]

Reads the active build of DATABASE_URL (a build_index.py run over a folder of one folder
per family) and ranks its stored raw vectors by each setting with the job's own code
(indexer/ranking), with no re-embedding: evaluate.py runs whole builds, this sweeps many
settings in seconds. `--small` also ranks random subsets of that many families (fewer images
than dimensions), `--repeats` subsets each, and reports the mean. Prints a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import random
import sys
from dataclasses import replace

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from core.db import db  # noqa: E402
from core.records import Build  # noqa: E402
from indexer.neighbors import find_neighbors  # noqa: E402
from indexer.ranking.settings import RankingSettings  # noqa: E402
from indexer.ranking.space import ranking_space  # noqa: E402
from scripts.evaluate import build_vectors, folder_labels, scores_at_k  # noqa: E402
from webapp import create_app  # noqa: E402

DEFAULT = RankingSettings()
OFF = RankingSettings(whiten=False, dba=False)
# Each step alone and together, at the defaults: the README's table.
STEPS = [OFF, replace(OFF, whiten=True), replace(OFF, dba=True), DEFAULT,
         replace(DEFAULT, power=1.0)]
# --grid: the wider search the defaults were chosen from.
GRID = [replace(DEFAULT, dims=dims, power=power) for dims in (64, 128, 256, 512)
        for power in (0.25, 0.5, 0.75, 1.0)] + [
    replace(DEFAULT, neighbours=n, alpha=alpha) for n in (1, 2, 3, 5, 8) for alpha in (1.0, 3.0)]


def search(vectors: np.ndarray, k: int):
    ids, scores, _ = find_neighbors("exact", vectors, k)
    return ids, scores


def precision(units: np.ndarray, paths: list[str], settings: RankingSettings, k: int) -> float:
    """Return same-family precision@k of the lists ranked by `settings`."""
    space = ranking_space(units, settings, search)
    ids, _ = search(space.vectors, min(k, len(units) - 1))
    lists = {paths[i]: [paths[j] for j in row] for i, row in enumerate(ids)}
    return scores_at_k(lists, folder_labels(paths), k)["p_at_k"]


def subsets(paths: list[str], families: int, repeats: int, seed: int = 0) -> list[np.ndarray]:
    """Return `repeats` random choices of `families` whole families, as row positions."""
    labels = np.array([p.split("/")[0] for p in paths])
    names = sorted(set(labels))
    rng = random.Random(seed)
    return [np.flatnonzero(np.isin(labels, rng.sample(names, families)))
            for _ in range(repeats)]


def describe(settings: RankingSettings) -> str:
    text = settings.steps
    if settings.whiten:
        text += f" dims {settings.dims} power {settings.power}"
    if settings.dba:
        text += f" n {settings.neighbours} alpha {settings.alpha}"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("database_url")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--small", default="10,30", help="family counts of the small subsets")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--grid", action="store_true", help="the wider search, not the steps")
    args = parser.parse_args()
    app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url})
    with app.app_context():
        build = Build.active()
        paths, units, _ = build_vectors(build.id)
    sizes = [int(s) for s in args.small.split(",") if s]
    print(f"{build.model}, {len(paths)} images, {units.shape[1]} dimensions, k {args.k}")
    print("| setting | all | " + " | ".join(f"{s} families" for s in sizes) + " |")
    print("| --- " * (2 + len(sizes)) + "|")
    parts = {s: subsets(paths, s, args.repeats) for s in sizes}
    for settings in GRID if args.grid else STEPS:
        cells = [precision(units, paths, settings, args.k)]
        for s in sizes:
            cells.append(np.mean([precision(units[rows], [paths[i] for i in rows], settings,
                                            args.k) for rows in parts[s]]))
        print(f"| {describe(settings)} | " + " | ".join(f"{c:.3f}" for c in cells) + " |",
              flush=True)


if __name__ == "__main__":
    main()
