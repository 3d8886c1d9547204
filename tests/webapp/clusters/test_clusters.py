"""Clusters (and the explore pages with the map) through the site, on SQLite and PostgreSQL
built indexes; the map's own tests are in tests/webapp/map/."""
import math

import pytest

from tests.support.commands import run_build
from tests.support.live_server import every_image
from webapp import create_app

EXPLORE_PAGES = ["/clusters", "/clusters/0", "/clusters/curve.png", "/api/clusters",
                 "/api/clusters/0?per_page=5", "/map", "/api/map"]


def test_api_clusters_accounts_for_every_image_exactly_once(client, built):
    body = client.get("/api/clusters").get_json()
    assert set(body) == {"k", "method", "clusters"} and body["method"] == "auto"
    assert body["k"] == len(body["clusters"]) >= 2
    sizes = [c["size"] for c in body["clusters"]]
    assert sum(sizes) == len(built.collection.groups) and min(sizes) >= 1
    assert sizes == sorted(sizes, reverse=True)  # numbered from the largest
    assert [c["id"] for c in body["clusters"]] == list(range(body["k"]))
    members = {}
    for c in body["clusters"]:
        assert 1 <= len(c["images"]) <= min(8, c["size"])
        assert set(c["images"][0]) == {"id", "path", "url", "thumbnail_url"}
        found, page = [], 1
        while len(found) < c["size"]:
            part = client.get(f"/api/clusters/{c['id']}?page={page}&per_page=4").get_json()
            assert part["size"] == c["size"] and part["images"]
            found += part["images"]
            page += 1
        assert found[:len(c["images"])] == c["images"]  # the strip is the cluster's start
        members.update({image["id"]: c["id"] for image in found})
        assert len(found) == c["size"]
    assert len(members) == sum(sizes)
    images = every_image(client)
    assert set(members) == set(images)
    for image_id in list(images)[:10]:
        assert client.get(f"/api/images/{image_id}").get_json()["cluster"] == members[image_id]
        html = client.get(f"/images/{image_id}").get_data(as_text=True)
        assert f'href="/clusters/{members[image_id]}">cluster {members[image_id]}</a>' in html


def test_cluster_pages_list_their_images_paginated(app, client):
    app.config["PER_PAGE"] = 3
    body = client.get("/api/clusters").get_json()
    biggest = body["clusters"][0]
    html = client.get("/clusters").get_data(as_text=True)
    assert html.count('class="cluster-strip"') == body["k"]
    assert 'src="/clusters/curve.png"' in html and "elbow" in html
    pages = math.ceil(biggest["size"] / 3)
    seen = []
    for page in range(1, pages + 1):
        page_html = client.get(f"/clusters/0?page={page}").get_data(as_text=True)
        seen += [i["path"] for i in every_image(client).values() if f'title="{i["path"]}"' in page_html]
        if pages > 1:
            assert 'class="pagination"' in page_html and "/clusters/0?page=" in page_html
    assert len(seen) == biggest["size"]
    assert client.get(f"/clusters/0?page={pages + 1}").status_code == 404
    assert client.get(f"/clusters/{body['k']}").status_code == 404
    assert client.get(f"/api/clusters/{body['k']}").get_json() == {"error": "Not found"}


def test_the_curve_is_served_as_a_png(client):
    response = client.get("/clusters/curve.png")
    assert response.status_code == 200 and response.mimetype == "image/png"
    assert response.data[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("page", EXPLORE_PAGES)
def test_explore_pages_are_cached_with_etags(client, page):
    first = client.get(page)
    again = client.get(page)
    assert first.status_code == again.status_code == 200 and first.data == again.data
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["Cache-Control"] == "no-cache"
    assert "Content-Security-Policy" in again.headers
    assert client.get(page, headers={"If-None-Match": first.headers["ETag"]}).status_code == 304


def client_of_a_build(collection, folder, clusters: str, map_method: str):
    """Build the collection into a new SQLite database as told; return a client of it."""
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    result = run_build(collection.root, url, folder / "thumbnails", "--clusters", clusters,
                       map_method=map_method)
    assert result.returncode == 0, result.stderr
    return create_app({"SQLALCHEMY_DATABASE_URI": url,
                       "THUMBNAIL_DIR": str(folder / "thumbnails")}).test_client()


def test_a_build_without_clusters_or_map(collection, tmp_path):
    client = client_of_a_build(collection, tmp_path, "0", "none")
    assert client.get("/api/clusters").get_json() == {"k": 0, "method": "none", "clusters": []}
    assert client.get("/api/map").get_json() == {"points": []}
    first = client.get("/api/images?per_page=1").get_json()["images"][0]
    assert client.get(f"/api/images/{first['id']}").get_json()["cluster"] is None
    assert "--clusters auto" in client.get("/clusters").get_data(as_text=True)
    assert "--map umap" in client.get("/map").get_data(as_text=True)
    assert client.get("/clusters/0").status_code == 404
    assert client.get("/clusters/curve.png").status_code == 404


def test_a_fixed_number_of_clusters_and_a_tsne_map(collection, tmp_path):
    client = client_of_a_build(collection, tmp_path, "3", "tsne")
    body = client.get("/api/clusters").get_json()
    assert (body["k"], body["method"]) == (3, "fixed")
    assert sum(c["size"] for c in body["clusters"]) == len(collection.groups)
    assert client.get("/clusters/curve.png").status_code == 404  # no curve: k was given
    assert len(client.get("/api/map").get_json()["points"]) == len(collection.groups)
    assert "TSNE" in client.get("/map").get_data(as_text=True)
