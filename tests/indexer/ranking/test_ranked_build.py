"""A default build ranks in the space learned from its collection; flags turn each step off.

Real photographs (held back from the calibration), real Lite0 weights, the job's own CLI.
"""
import shutil

import numpy as np
import pytest

from scripts.demo_photos import make_turned
from indexer.embedders.registry import OFFLINE_MODEL
from tests.support.commands import run_build
from tests.support.index_lists import query

PHOTOS = ("chelsea", "coffee", "astronaut")
LISTS = """SELECT a.path, b.path, r.rank, r.score, r.cosine FROM recommendations r
           JOIN builds ON builds.id = r.build_id AND builds.status = 'active'
           JOIN images a ON a.id = r.image_id JOIN images b ON b.id = r.similar_id
           ORDER BY a.path, r.rank"""
RANKING = """SELECT steps FROM build_rankings JOIN builds ON builds.id = build_id
             WHERE builds.status = 'active'"""


def build(folder, url, *flags):
    result = run_build(folder / "images", url, folder / "thumbs", "--model", OFFLINE_MODEL,
                       "--k", 6, *flags, weights="imagenet")
    assert result.returncode == 0, result.stderr
    return {(a, b): (rank, score, cosine) for a, b, rank, score, cosine in query(url, LISTS)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ranked")
    make_turned(str(folder / "images"), PHOTOS)
    return folder


def test_default_lists_are_ranked_sorted_symmetric_and_keep_the_raw_cosine(folder):
    url = f"sqlite:///{folder / 'ranked.sqlite3'}"
    lists = build(folder, url)
    assert [row[0] for row in query(url, RANKING)] == ["whiten+dba"]
    assert all(a != b for a, b in lists)
    by_image = {}
    for (a, b), (rank, score, cosine) in lists.items():
        by_image.setdefault(a, []).append((rank, score))
        assert -1.0 <= cosine <= 1.0 + 1e-6
    for entries in by_image.values():
        scores = [score for _, score in sorted(entries)]
        assert len(scores) == 6 and scores == sorted(scores, reverse=True)
    mutual = [(pair, v) for pair, v in lists.items() if pair[::-1] in lists]
    assert mutual
    for pair, (_, score, cosine) in mutual:
        assert score == pytest.approx(lists[pair[::-1]][1], abs=1e-5)
        assert cosine == pytest.approx(lists[pair[::-1]][2], abs=1e-5)
    # The learned space is not the raw cosine: it separates the photographs more.
    assert any(abs(score - cosine) > 0.01 for _, score, cosine in lists.values())
    # Each photograph's turned copies lead its list (3 photographs of 8 pictures each).
    same = [a.split("/")[0] == b.split("/")[0] for (a, b), (rank, _, _) in lists.items()
            if rank < 3]
    assert np.mean(same) > 0.9


def test_an_incremental_run_equals_a_full_rebuild(folder, tmp_path):
    url = f"sqlite:///{folder / 'ranked.sqlite3'}"
    build(folder, url)
    shutil.copy(folder / "images" / "coffee" / "rot90.jpg", folder / "images" / "new.jpg")
    try:
        again = build(folder, url)
        fresh = build(folder, f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    finally:
        (folder / "images" / "new.jpg").unlink()
    assert again.keys() == fresh.keys()
    for pair, (rank, score, cosine) in again.items():
        assert fresh[pair][0] == rank or abs(fresh[pair][1] - score) < 1e-5
        assert fresh[pair][1] == pytest.approx(score, abs=1e-5)


def test_no_whiten_no_dba_ranks_by_the_raw_cosine(folder, tmp_path):
    url = f"sqlite:///{tmp_path / 'raw.sqlite3'}"
    lists = build(folder, url, "--no-whiten", "--no-dba")
    assert query(url, RANKING) == []
    for rank, score, cosine in lists.values():
        assert score == pytest.approx(cosine, abs=1e-5)
