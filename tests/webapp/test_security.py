"""A hardened site: headers, no way out of the collection root, a database outage survived."""
import io
import os
import re
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy

from tests.support.commands import run_build
from tests.support.databases import new_postgres_database
from tests.support.databases import statements_during
from tests.support.tcp_proxy import TcpProxy
from webapp import create_app
from webapp.serving.active_index import EXTENSION
from webapp.serving.warmup import warm_pages


def assert_security_headers(response, what):
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp, what
    assert "frame-ancestors 'none'" in csp, what
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("Referrer-Policy") == "same-origin", what


def every_kind_of_url(client) -> list[str]:
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', client.get("/").get_data(as_text=True))
    return ["/", "/?page=1", f"/images/{image['id']}", "/api/images", f"/api/images/{image['id']}",
            "/duplicates", "/api/duplicates", "/model", "/search", "/healthz", "/images/999999",
            "/api/images/999999", image["url"], image["thumbnail_url"], stylesheet[1],
            "/static/style.css"]


def test_security_headers_on_every_response_cold_cached_and_304(app, client):
    app.extensions[EXTENSION].ttl = 3600  # the served index stays fresh: hits skip Flask
    warm_pages(app)  # as gunicorn's master does before forking: some pages start cached
    for url in every_kind_of_url(client):
        first = client.get(url)
        assert_security_headers(first, f"GET {url}")
        again = client.get(url)  # from the page cache where the page is cached
        assert_security_headers(again, f"GET {url} again")
        if "ETag" in again.headers and not (url.endswith("/file")
                                            or url.startswith(("/thumbnails/", "/static/"))):
            # A page (not a file) the cache answers without asking the database or Flask.
            assert statements_during(app, lambda: client.get(url)) == [], url
        if "ETag" in again.headers:
            revalidated = client.get(url, headers={"If-None-Match": again.headers["ETag"]})
            assert revalidated.status_code == 304, url
            assert_security_headers(revalidated, f"304 {url}")
    assert_security_headers(client.post("/api/search"), "POST /api/search without a file")


def test_no_inline_scripts_or_styles_in_pages(client):
    first = client.get("/api/images?per_page=1").get_json()["images"][0]
    for path in ("/", f"/images/{first['id']}"):
        html = client.get(path).get_data(as_text=True)
        assert "<script>" not in html and "style=" not in html and "onerror" not in html


@pytest.mark.parametrize("path", [
    "/images/1/../../../../etc/passwd", "/images/..%2f..%2fetc%2fpasswd/file",
    "/thumbnails/..%2f..%2fetc%2fpasswd.jpg", "/thumbnails/%2e%2e/secret.jpg",
    "/static/../app.py", "/static/..%2fapp.py", "/images/-1/file"])
def test_paths_cannot_leave_the_roots(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"create_app" not in response.data and b"root:" not in response.data


@pytest.fixture
def small_site(tmp_path, collection):
    """Two pictures indexed from a folder of their own, beside a secret file outside it."""
    source = tmp_path / "source"
    source.mkdir()
    for name, picture in (("a.jpg", "picture-00.jpg"), ("b.jpg", "picture-01.jpg")):
        (source / name).write_bytes((collection.root / "group-00" / picture).read_bytes())
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run_build(source, url, tmp_path / "t").returncode == 0
    (tmp_path / "secret.jpg").write_bytes(b"\xff\xd8 secret outside the root")
    return url, create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()


@pytest.mark.parametrize("stored", ["../secret.jpg", "../../../../etc/passwd", "/etc/passwd",
                                    "b/../../secret.jpg"])
def test_a_stored_path_leading_out_of_the_root_is_not_served(small_site, stored):
    """The path comes from the database, not the URL: resolve_inside is what refuses it."""
    url, client = small_site
    image = client.get("/api/images").get_json()["images"][0]
    assert client.get(image["url"]).status_code == 200  # served until its path leads out
    with sqlalchemy.create_engine(url).begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE images SET path = :path WHERE id = :id"),
                           {"path": stored, "id": image["id"]})
    response = client.get(image["url"])
    assert response.status_code == 404
    assert b"secret" not in response.data and b"root:" not in response.data


@pytest.mark.parametrize("url", ["/images/99999999999999999999999",
                                 "/api/images/99999999999999999999999",
                                 "/images/9223372036854775808/file",
                                 "/api/images/2147483648", "/clusters/99999999999999999999",
                                 "/api/clusters/18446744073709551616"])
def test_ids_past_what_a_column_holds_are_not_found(client, url):
    response = client.get(url)
    assert response.status_code == 404


def test_map_details_skip_ids_past_what_a_column_holds(client):
    image = client.get("/api/images?per_page=1").get_json()["images"][0]
    response = client.get(f"/api/map/images?ids={image['id']},99999999999999999999999")
    assert response.status_code == 200
    assert [i["id"] for i in response.get_json()["images"]] == [image["id"]]


def test_a_file_replaced_by_a_link_pointing_outside_is_not_served(small_site, tmp_path):
    _, client = small_site
    os.unlink(tmp_path / "source" / "a.jpg")
    os.symlink(tmp_path / "secret.jpg", tmp_path / "source" / "a.jpg")
    image = next(i for i in client.get("/api/images").get_json()["images"] if i["path"] == "a.jpg")
    response = client.get(image["url"])
    assert response.status_code == 404 and b"secret" not in response.data


def test_database_outage_gives_503_and_the_site_recovers_without_restart(
        postgres_server, collection, tmp_path):
    with new_postgres_database(postgres_server) as url:
        assert run_build(collection.root / "group-00", url, tmp_path / "t").returncode == 0
        play_outage(url, tmp_path / "t")


def play_outage(database_url, thumbnails):
    """Serve through a proxy, cut it: 503s; restore it: answers again, same app object."""
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432)
    proxy.start()
    proxied = urlunsplit((parts.scheme, f"{parts.username}@127.0.0.1:{proxy.port}",
                          parts.path, "", ""))
    # The served build stays known through the outage: what fails is reading its rows.
    app = create_app({"SQLALCHEMY_DATABASE_URI": proxied, "THUMBNAIL_DIR": str(thumbnails),
                      "INDEX_REFRESH_SECONDS": 3600})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 200
    proxy.stop()
    down = client.get("/healthz")
    assert down.status_code == 503 and down.get_json()["status"] == "unavailable"
    page = client.get("/?page=1")  # not cached yet
    assert page.status_code == 503 and "database" in page.get_data(as_text=True)
    picture = next(Path(thumbnails).rglob("*.jpg")).read_bytes()  # a readable image
    search = client.post("/api/search", data={"image": (io.BytesIO(picture), "q.jpg")})
    assert search.status_code == 503 and "database" in search.get_json()["error"]  # not 400
    proxy.start()
    assert client.get("/healthz").get_json() == {"status": "ok", "images": 6}
    assert client.get("/").status_code == 200
    proxy.stop()
