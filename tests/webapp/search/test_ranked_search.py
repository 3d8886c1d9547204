"""Uploads are ranked in the build's learned space; tiers stay on the raw cosine."""
import io
import random
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from core.tiers import EXACT, NEAR_DUPLICATE
from indexer.embedders.registry import OFFLINE_MODEL
from indexer.neighbors import find_neighbors
from indexer.ranking.settings import RankingSettings
from indexer.ranking.space import ranking_space
from scripts.demo_photos import crop, make_turned
from tests.support.commands import run_build
from webapp import create_app
from webapp.search.ranked import LearnedSpace, learned_vectors
from webapp.serving.active_index import served_index

PHOTOS = ("chelsea", "coffee", "astronaut")


@pytest.fixture(scope="module")
def ranked_site(tmp_path_factory):
    """Three held-back photographs and their turned copies, a default Lite0 build."""
    folder = tmp_path_factory.mktemp("ranked-site")
    families = make_turned(str(folder / "images"), PHOTOS)
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    result = run_build(folder / "images", url, folder / "thumbs", "--k", 6,
                       "--model", OFFLINE_MODEL, weights="imagenet")
    assert result.returncode == 0, result.stderr
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(folder / "thumbs")})
    return app.test_client(), families, folder / "images"


def upload(client, picture: Image.Image | bytes):
    if isinstance(picture, Image.Image):
        data = io.BytesIO()
        picture.save(data, "JPEG", quality=85)
        picture = data.getvalue()
    response = client.post("/api/search", data={"image": (io.BytesIO(picture), "upload.jpg"),
                                                "k": "6"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def threshold(client):
    with client.application.app_context():
        return served_index().threshold


def test_an_edited_upload_finds_its_family_ranked_by_the_learned_score(ranked_site):
    client, families, root = ranked_site
    photo = Image.open(root / "coffee" / "original.jpg").convert("RGB")
    body = upload(client, crop(photo, 0.8, random.Random(3)))
    assert body["ranking"] == "whiten+dba" and body["metric"] == "cosine"
    results = body["results"]
    assert len(results) == 6
    assert {families[r["path"]] for r in results[:3]} == {"coffee"}
    scores = [r["score"] for r in results]
    assert scores == sorted(scores, reverse=True)
    assert any(abs(r["score"] - r["cosine"]) > 0.01 for r in results)  # two measures


def test_tiers_of_uploads_and_lists_follow_the_raw_cosine(ranked_site):
    client, families, root = ranked_site
    body = upload(client, (root / "chelsea" / "original.jpg").read_bytes())  # the file itself
    limit = threshold(client)
    assert body["results"][0]["tier"] == EXACT
    # A near-duplicate needs the raw cosine at the threshold (and the same pixels: copies.py),
    # whatever its score in the learned space, which runs higher.
    for result in body["results"][1:]:
        if result["cosine"] < limit:
            assert result["tier"] != NEAR_DUPLICATE, result
    assert all(r["score"] >= r["cosine"] - 1e-6 for r in body["results"][:3])
    images = client.get("/api/images?per_page=100").get_json()["images"]
    detail = client.get(f"/api/images/{images[0]['id']}").get_json()
    assert detail["ranking"] == "whiten+dba"
    scores = [s["score"] for s in detail["similar"]]
    assert scores == sorted(scores, reverse=True)
    assert all(-1.0 <= s["cosine"] <= 1.0 for s in detail["similar"])
    facts = client.get("/api/index").get_json()
    assert facts["ranking"] == "whiten+dba" and "raw cosine" in facts["score"]


def test_the_image_page_names_the_score_and_shows_the_cosine(ranked_site):
    client, _, _ = ranked_site
    images = client.get("/api/images?per_page=100").get_json()["images"]
    page = client.get(f"/images/{images[0]['id']}").get_data(as_text=True)
    assert "whitening and augmentation learned from this collection" in page
    assert 'class="cosine"' in page


def test_the_search_page_names_the_score_and_shows_the_cosine(ranked_site):
    client, _, root = ranked_site
    data = (root / "astronaut" / "rot90.jpg").read_bytes()
    page = client.post("/search", data={"image": (io.BytesIO(data), "upload.jpg")})
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "whitening and augmentation learned from this collection" in text
    assert 'class="cosine"' in text


def test_candidates_get_the_learned_vectors_the_job_ranked_by():
    """Past the approximate index's size the web computes a candidate's learned vector from
    its raw vector and its augmentation neighbours': what the job computed for the matrix."""
    rng = np.random.default_rng(0)
    units = rng.normal(size=(300, 64)).astype(np.float32)
    units /= np.linalg.norm(units, axis=1, keepdims=True)

    def exact(vectors, n):
        ids, scores, _ = find_neighbors("exact", vectors, n)
        return ids, scores
    job = ranking_space(units, RankingSettings(dims=16), exact)
    assert job.steps == "whiten+dba"
    space = LearnedSpace(job.whitening, job.neighbours, job.weights, 5, 1.0)
    rows = {p: SimpleNamespace(content_hash=f"h{p}") for p in range(len(units))}
    stored = {f"h{p}": units[p] for p in range(len(units))}
    positions = np.sort(rng.choice(len(units), 40, replace=False))
    web = learned_vectors(space, rows, stored, positions)
    np.testing.assert_allclose(web, job.vectors[positions], atol=1e-5)
    whitened_only = LearnedSpace(job.whitening, None, None, 0, 1.0)
    np.testing.assert_allclose(learned_vectors(whitened_only, rows, stored, positions),
                               job.whitening.apply(units[positions]), atol=1e-6)
