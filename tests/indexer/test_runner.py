"""The job's one-line summary."""
import re

from indexer.runner import Summary
from indexer.scan import Skip


def summary(**changes):
    values = dict(build_id=1, indexed=1000, skipped=[Skip("a.jpg", "broken")], seconds=20.0,
                  embedded=900, reused=100, weights="IMAGENET1K_V1", precision="bf16",
                  timings={})
    return Summary(**{**values, **changes})


def test_summary_line_counts_time_and_rate():
    line = summary().line()
    assert "\n" not in line
    assert re.match(r"indexed 1000 images, skipped 1, 20\.0 s, 50\.0 images/s", line)
    assert "embedded 900, reused 100, bf16, exact neighbours" in line
    assert "random" not in line
    assert "reused 100, int8 on onnxruntime, exact" in summary(precision="int8",
                                                               engine="onnxruntime").line()


def test_summary_reports_recall_when_neighbours_are_approximate():
    line = summary(neighbors="faiss", recall=0.9712).line()
    assert "faiss neighbours, recall@k 0.971 on a sample" in line


def test_summary_says_when_weights_were_random():
    assert "random weights: for tests and offline trials only" in summary(weights="none").line()


def test_summary_of_an_instant_run_has_no_division_by_zero():
    assert "0.0 images/s" in summary(seconds=0.0).line()
