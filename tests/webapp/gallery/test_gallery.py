"""The JSON API contract and the HTML pages against a built index, on SQLite and PostgreSQL."""
import subprocess
import sys

import pytest

from tests.support.commands import K, ROOT
from tests.support.live_server import all_images
from core.db import db, ensure_schema
from webapp import create_app


def test_api_lists_every_image_once_in_path_order(client, built):
    images, total = all_images(lambda url: client.get(url).get_json(), per_page=7)
    paths = [i["path"] for i in images]
    assert total == len(built.collection.groups) == len(set(paths))
    assert paths == sorted(built.collection.groups)
    assert set(images[0]) == {"id", "path", "url", "thumbnail_url"}
    assert all(isinstance(i["id"], int) for i in images)


def test_api_page_shape(client):
    body = client.get("/api/images?page=2&per_page=10").get_json()
    assert (body["page"], body["per_page"], len(body["images"])) == (2, 10, 10)


@pytest.mark.parametrize("query", ["page=0", "page=x", "per_page=0", "per_page=100000",
                                   "page=99999999999999999999"])
def test_api_rejects_bad_paging_with_a_message(client, query):
    response = client.get(f"/api/images?{query}")
    assert response.status_code == 400 and "error" in response.get_json()


def test_api_index_names_what_built_it(client, built):
    body = client.get("/api/index").get_json()
    assert {k: body[k] for k in ("model", "weights", "dim", "metric", "k", "images")} == {
        "model": "resnet18", "weights": "none", "dim": 512, "metric": "cosine", "k": K,
        "images": len(built.collection.groups)}
    assert body["built_at"].endswith("+00:00")


def test_api_image_detail(client, built):
    first = client.get("/api/images?per_page=1").get_json()["images"][0]
    body = client.get(f"/api/images/{first['id']}").get_json()
    assert {k: body[k] for k in first} == first
    assert body["width"] > 0 and body["height"] > 0
    similar = body["similar"]
    assert len(similar) == K and first["id"] not in [s["id"] for s in similar]
    assert set(similar[0]) == {"id", "path", "score", "cosine", "url", "thumbnail_url", "tier"}
    scores = [s["score"] for s in similar]
    assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)


def test_originals_and_thumbnails_are_images_with_cache_headers(client):
    body = client.get("/api/images?per_page=1").get_json()["images"][0]
    original = client.get(body["url"])
    assert original.status_code == 200 and original.mimetype == "image/jpeg"
    assert original.data[:2] == b"\xff\xd8" and original.headers["ETag"]
    again = client.get(body["url"], headers={"If-None-Match": original.headers["ETag"]})
    assert again.status_code == 304
    thumb = client.get(body["thumbnail_url"])
    assert thumb.status_code == 200 and thumb.data[:2] == b"\xff\xd8"
    assert "immutable" in thumb.headers["Cache-Control"]


def test_unknown_ids_are_404_in_json_and_html(client):
    response = client.get("/api/images/999999")
    assert response.status_code == 404 and response.get_json() == {"error": "Not found"}
    assert client.get("/images/999999").status_code == 404
    assert client.get("/images/999999/file").status_code == 404
    assert client.get("/thumbnails/../../etc/passwd.jpg").status_code == 404
    assert client.get("/thumbnails/nothex.jpg").status_code == 404


def test_healthz(client, built):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "images": len(built.collection.groups)}


def test_gallery_pages(app, built):
    app.config["PER_PAGE"] = 20
    client = app.test_client()
    html = client.get("/").get_data(as_text=True)
    assert f"{len(built.collection.groups)} images" in html
    assert html.count('loading="lazy"') == 20
    assert 'rel="next"' in html and "random weights" in html
    last = client.get("/?page=3").get_data(as_text=True)
    assert last.count('loading="lazy"') == len(built.collection.groups) - 40
    assert 'rel="next"' not in last and 'rel="prev"' in last
    assert client.get("/?page=4").status_code == 404


def test_image_page_shows_recommendations_with_scores(client):
    first = client.get("/api/images?per_page=1").get_json()["images"][0]
    detail = client.get(f"/api/images/{first['id']}").get_json()
    html = client.get(f"/images/{first['id']}").get_data(as_text=True)
    assert first["path"] in html
    assert html.count('class="score"') == K
    assert f"{detail['similar'][0]['score']:.4f}" in html
    assert f'/images/{detail["similar"][0]["id"]}"' in html


def test_image_dir_overrides_the_recorded_root(built, tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "IMAGE_DIR": str(tmp_path),
                      "THUMBNAIL_DIR": str(built.thumbnails)})
    client = app.test_client()
    first = client.get("/api/images?per_page=1").get_json()["images"][0]
    assert client.get(first["url"]).status_code == 404  # nothing in the new root
    (tmp_path / first["path"]).parent.mkdir(parents=True)
    (tmp_path / first["path"]).write_bytes(b"\xff\xd8moved")
    assert client.get(first["url"]).data == b"\xff\xd8moved"


def test_database_down_gives_503():
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://postgres@127.0.0.1:1/none"})
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503 and health.get_json()["status"] == "unavailable"
    page = client.get("/")
    assert page.status_code == 503 and "database" in page.get_data(as_text=True)


def test_empty_database_shows_how_to_build(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'new.sqlite3'}"})
    with app.app_context():
        ensure_schema(db.engine)
    client = app.test_client()
    assert "build_index.py" in client.get("/").get_data(as_text=True)
    assert client.get("/api/images").get_json()["total"] == 0
    assert client.get("/healthz").get_json() == {"status": "ok", "images": 0}
    index = client.get("/api/index")
    assert index.status_code == 404 and "build_index.py" in index.get_json()["error"]


def test_importing_the_web_app_loads_no_torch():
    code = ("import sys, app; "
            "print(sorted(m for m in ('torch', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
