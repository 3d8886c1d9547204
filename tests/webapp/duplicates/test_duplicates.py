"""Duplicate groups (exact copies and near-duplicates) and the tiers the site shows.

The tier rules are tested in tests/core/test_tiers.py, their calibration in
tests/indexer/embedders/test_calibration.py, calibrate_tiers.py in tests/scripts/."""
import contextlib
import csv
import io
import shutil

import numpy as np
import pytest
from PIL import Image

from tests.support.commands import run_build
from tests.support.databases import new_postgres_database
from samples.drawn import make_collection
from webapp import create_app
from webapp.duplicates.cliques import PairScores, group_contents, weakest_pair

EXACT_PAIR = ["copies/exact.jpg", "group-00/picture-00.jpg"]
NEAR_GROUP = ["copies/reencoded.jpg", "copies/resized.jpg", "group-01/picture-00.jpg"]
# The copy each group suggests keeping comes first: of two equal files the older one (the
# copy was written after it); of the near-duplicates the original (most pixels, then the
# highest JPEG quality).
EXACT_SHOWN = EXACT_PAIR[::-1]
NEAR_SHOWN = [NEAR_GROUP[2], *NEAR_GROUP[:2]]


def test_groups_do_not_chain_through_a_third_image():
    """A ~ B and B ~ C, but A is no copy of C: A and B group (their pair is best), C alone."""
    vectors = {h: np.array(v, dtype=np.float32) for h, v in
               {"a": [1, 0], "b": [0.8, 0.6], "c": [0.28, 0.96], "d": [0, 1]}.items()}
    score = PairScores({h: v / np.linalg.norm(v) for h, v in vectors.items()})
    pairs = [("a", "b"), ("c", "b"), ("c", "d")]  # the copy pairs the job found
    groups = group_contents(pairs, score, {"a": 0, "b": 1, "c": 2, "d": 3})
    assert groups == [["a", "b"], ["c", "d"]]
    assert weakest_pair(["a", "b"], score)[0] == score("a", "b")


def write_duplicates_collection(root):
    """Five distinct pictures; an exact copy of the first; two near-duplicates of the second."""
    make_collection(str(root), groups=5, per_group=1, seed=3)
    (root / "copies").mkdir()
    shutil.copy(root / EXACT_PAIR[1], root / EXACT_PAIR[0])
    original = Image.open(root / NEAR_GROUP[2])
    original.save(root / NEAR_GROUP[0], quality=60)
    original.resize((original.width // 2, original.height // 2)).save(root / NEAR_GROUP[1])


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dup_client(request, tmp_path_factory):
    """A client of an index of the duplicates collection, on each database backend, built
    with real weights (EfficientNet-Lite0's): random ones make tiers meaningless."""
    folder = tmp_path_factory.mktemp(f"duplicates-{request.param}")
    write_duplicates_collection(folder / "images")
    with contextlib.ExitStack() as stack:
        if request.param == "sqlite":
            url = f"sqlite:///{folder / 'index.sqlite3'}"
        else:
            server = request.getfixturevalue("postgres_server")
            url = stack.enter_context(new_postgres_database(server))
        result = run_build(folder / "images", url, folder / "thumbs", "--k", 3,
                           "--model", "efficientnet_lite0", weights="imagenet")
        assert result.returncode == 0, result.stderr
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(folder / "thumbs")})
        yield app.test_client()
        with app.app_context():
            from core.db import db
            db.engine.dispose()


def paths(images):
    return [i["path"] for i in images]


def test_duplicate_groups_api(dup_client):
    body = dup_client.get("/api/duplicates").get_json()
    assert 0.5 < body["threshold"] < 1 and body["total"] == 2
    exact, near = body["groups"]
    assert (exact["tier"], exact["size"], paths(exact["images"])) == ("exact", 2, EXACT_SHOWN)
    assert (near["tier"], paths(near["images"])) == ("near-duplicate", NEAR_SHOWN)
    assert set(exact["images"][0]) == {"id", "path", "url", "thumbnail_url", "name", "width",
                                       "height", "file_size", "format", "jpeg_quality",
                                       "captured_at", "modified_at", "score", "keep",
                                       "protected"}
    assert exact["reason"].startswith("oldest file") and near["reason"].startswith("highest quality")
    second = dup_client.get("/api/duplicates?page=2&per_page=1").get_json()
    assert second["groups"] == [near] and (second["page"], second["per_page"]) == (2, 1)
    assert dup_client.get("/api/duplicates?page=3&per_page=1").get_json()["groups"] == []
    assert dup_client.get("/api/duplicates?per_page=0").status_code == 400


def test_each_group_suggests_a_copy_to_keep_and_scores_the_others_against_it(dup_client):
    exact, near = dup_client.get("/api/duplicates").get_json()["groups"]
    for group in (exact, near):
        kept, *others = group["images"]
        assert kept["keep"] and kept["id"] == group["keep"] and kept["score"] == 1
        assert not any(o["keep"] for o in others)
    assert [o["score"] for o in exact["images"]] == [1, 1]  # the same file: exactly 1
    original, reencoded, resized = near["images"]
    assert (original["width"], original["height"]) == (resized["width"] * 2,
                                                        resized["height"] * 2)
    assert original["file_size"] > reencoded["file_size"]  # same size, less JPEG quality
    threshold = dup_client.get("/api/duplicates").get_json()["threshold"]
    assert 0 < resized["score"] < 1 and 0 < reencoded["score"] < 1
    # Linked to the original or to each other: at least one is a near-duplicate of it.
    assert max(resized["score"], reencoded["score"]) >= threshold
    assert (original["name"], resized["name"]) == ("picture-00.jpg", "resized.jpg")


def test_the_copies_not_kept_download_as_csv_and_json(dup_client):
    response = dup_client.get("/api/duplicates/others.csv")
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(r["group"], r["tier"], r["keep"], r["path"]) for r in rows] == [
        ("1", "exact", EXACT_SHOWN[0], EXACT_SHOWN[1]),
        ("2", "near-duplicate", NEAR_SHOWN[0], NEAR_SHOWN[1]),
        ("2", "near-duplicate", NEAR_SHOWN[0], NEAR_SHOWN[2])]
    body = dup_client.get("/api/duplicates/others.json").get_json()
    assert body["root"].endswith("images")
    assert [(o["keep"], o["path"], str(o["score"])) for o in body["others"]] == [
        (r["keep"], r["path"], r["score"]) for r in rows]


def test_duplicates_page(dup_client):
    html = dup_client.get("/duplicates").get_data(as_text=True)
    assert "2 groups" in html and html.count('class="duplicate-group') == 2
    assert 'class="tier">exact' in html and 'class="tier">near-duplicate' in html
    assert html.count('class="keep"') == 2 and "resized.jpg" in html and "320 &times; 240" in html
    assert "/api/duplicates/others.csv" in html and "/api/duplicates/others.json" in html
    assert dup_client.get("/duplicates?page=2").status_code == 404


def test_random_weights_group_only_exact_copies(client):
    """Random features score unrelated pictures alike: no near-duplicate tier is claimed."""
    body = client.get("/api/duplicates").get_json()
    assert body["threshold"] is None and body["total"] == 0
    html = client.get("/duplicates").get_data(as_text=True)
    assert "built with random weights" in html
    first = client.get("/api/images").get_json()["images"][0]
    similar = client.get(f"/api/images/{first['id']}").get_json()["similar"]
    assert {s["tier"] for s in similar} == {"similar"}


def test_recommendations_carry_tiers(dup_client):
    ids = {i["path"]: i["id"] for i in dup_client.get("/api/images").get_json()["images"]}
    copy = dup_client.get(f"/api/images/{ids[EXACT_PAIR[0]]}").get_json()["similar"]
    assert (copy[0]["path"], copy[0]["tier"]) == (EXACT_PAIR[1], "exact")
    assert [s["tier"] for s in copy[1:]] == ["similar", "similar"]
    original = dup_client.get(f"/api/images/{ids[NEAR_GROUP[2]]}").get_json()["similar"]
    assert sorted(paths(original[:2])) == NEAR_GROUP[:2]
    assert [s["tier"] for s in original] == ["near-duplicate", "near-duplicate", "similar"]
    html = dup_client.get(f"/images/{ids[NEAR_GROUP[2]]}").get_data(as_text=True)
    assert html.count('class="tier">near-duplicate') == 2


def test_search_results_carry_tiers(dup_client):
    picture = Image.open(io.BytesIO(dup_client.get(
        dup_client.get("/api/images").get_json()["images"][-1]["url"]).data))
    out = io.BytesIO()
    picture.crop((10, 8, picture.width - 10, picture.height - 8)).save(out, "JPEG", quality=70)
    results = dup_client.post("/api/search", data={"image": (io.BytesIO(out.getvalue()),
                                                             "q.jpg")}).get_json()["results"]
    assert results[0]["path"] == "group-04/picture-00.jpg"
    assert [r["tier"] for r in results] == ["near-duplicate", "similar", "similar"]
