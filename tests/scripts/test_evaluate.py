"""scripts/evaluate.py: the measures at k, the run syntax, and a side-by-side comparison."""
import json
import subprocess
import sys

import pytest
from PIL import Image

from tests.support.commands import ROOT
from scripts.demo_photos import make_families
from scripts.evaluate import folder_labels, parse_run, scores_at_k


def test_measures_at_k_by_hand():
    labels = {"a/1": "a", "a/2": "a", "a/3": "a", "b/1": "b", "b/2": "b", "c/1": "c"}
    lists = {"a/1": ["b/1", "a/2"],        # one hit of two others, at rank 2
             "a/2": ["a/1", "a/3"],        # both
             "a/3": ["c/1", "b/2"],        # none
             "b/1": ["b/2", "a/1"],        # the one other, first
             "b/2": ["a/1", "a/2"],        # missed
             "c/1": ["a/1", "b/1"]}        # no other of its label: not a query
    scores = scores_at_k(lists, labels, 2)
    assert scores["queries"] == 5
    assert scores["p_at_k"] == pytest.approx((0.5 + 1 + 0 + 0.5 + 0) / 5)
    assert scores["recall_at_k"] == pytest.approx((0.5 + 1 + 0 + 1 + 0) / 5)
    # AP@2: a/1 (1/2)/2, a/2 (1+1)/2, b/1 1/1.
    assert scores["map_at_k"] == pytest.approx((0.25 + 1 + 0 + 1 + 0) / 5)
    with pytest.raises(ValueError, match="nothing to evaluate"):
        scores_at_k({"c/1": []}, {"c/1": "c"}, 2)


def test_run_syntax():
    run = parse_run("resnet18:none")
    assert (run.model, run.weights, run.metric, run.within_cluster) == (
        "resnet18", "none", "cosine", False)
    assert parse_run("efficientnet_lite0").weights == "imagenet"
    assert parse_run("autoencoder").weights == "train"
    assert parse_run("efficientnet_lite0@euclidean").metric == "euclidean"
    assert parse_run("efficientnet_lite0").steps == ()  # the raw cosine
    both = parse_run("efficientnet_lite2:imagenet+whiten+dba/within-cluster")
    assert (both.model, both.weights, both.steps, both.within_cluster) == (
        "efficientnet_lite2", "imagenet", ("whiten", "dba"), True)
    assert parse_run("efficientnet_lite0+dba").steps == ("dba",)
    for bad in ("resnet19", "resnet18@manhattan", "resnet18/elsewhere", "resnet18+sharpen",
                "resnet18@euclidean+whiten"):
        with pytest.raises(ValueError):
            parse_run(bad)
    assert folder_labels(["a/x.jpg", "top.jpg", "b/c/y.jpg"]) == {"a/x.jpg": "a",
                                                                   "b/c/y.jpg": "b"}


def test_compares_runs_in_one_invocation(tmp_path):
    families = make_families(str(tmp_path / "images"))
    chart = tmp_path / "chart.png"
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "evaluate.py"), str(tmp_path / "images"),
         "--runs", "resnet18:none,efficientnet_lite0,efficientnet_lite0/within-cluster,"
                   "autoencoder,autoencoder:none",
         "--k", "10", "--chart", str(chart),
         "--no-progress"], capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    body = json.loads(lines[-1])
    assert body["k"] == 10
    random, lite0, within, trained, untrained = body["results"]
    assert (random["run"], random["model"], random["weights"]) == ("resnet18:none", "resnet18",
                                                                   "none")
    assert set(lite0) >= {"run", "model", "weights", "metric", "within_cluster", "p_at_k",
                          "recall_at_k", "map_at_k", "seconds"}
    assert lite0["queries"] == len(families)
    # Real ImageNet features rank the families better than random ones (0.90 vs 0.76 here).
    assert lite0["p_at_k"] >= 0.85 and lite0["p_at_k"] > random["p_at_k"] + 0.05
    assert "| `efficientnet_lite0` |" in result.stdout
    # Ranked among its own cluster only: the families are whole clusters, so nothing is lost.
    assert within["within_cluster"] and not lite0["within_cluster"]
    assert within["p_at_k"] >= lite0["p_at_k"] - 0.02
    # Trained on the folder, the autoencoder ranks the families clearly better than the same
    # architecture untrained (measured 0.746 against 0.634; half that margin is asked for).
    assert (trained["weights"], untrained["weights"]) == ("train", "none")
    assert trained["p_at_k"] >= untrained["p_at_k"] + 0.05
    assert Image.open(chart).size[0] > 100
