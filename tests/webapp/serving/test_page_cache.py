"""Rendered pages cached per build and URL: the same bytes, ETags, 304s, a bounded cache."""
import pytest

from tests.support.databases import statements_during
from webapp.serving.active_index import EXTENSION
from webapp.serving.lru import CachedPage, LRUCache
from webapp.serving.warmup import warm_pages

PAGES = ["/", "/?page=1", "/api/images?per_page=7", "/images/{id}", "/api/images/{id}",
         "/duplicates", "/api/duplicates?per_page=3"]


def first_id(client) -> int:
    return client.get("/api/images?per_page=1").get_json()["images"][0]["id"]


@pytest.mark.parametrize("page", PAGES)
def test_a_cached_page_is_the_page_with_an_etag_to_revalidate(app, client, page):
    url = page.format(id=first_id(client))
    rendered = client.get(url)
    cached = client.get(url)
    assert rendered.status_code == cached.status_code == 200
    assert cached.data == rendered.data and cached.content_type == rendered.content_type
    assert cached.headers["ETag"] == rendered.headers["ETag"]
    assert cached.headers["Cache-Control"] == "no-cache"
    again = client.get(url, headers={"If-None-Match": cached.headers["ETag"]})
    assert again.status_code == 304 and not again.data
    assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200


def keep_build(app) -> None:
    """Look the active build up only once, so that statement counts do not depend on timing."""
    app.extensions[EXTENSION].ttl = 3600


def test_an_image_page_takes_four_queries_then_none(app, client):
    """The image, its recommendations (one query, whatever k), its copies and distinct list
    (one query) and its previous and next images (one query; the API has no use for them);
    nothing once cached."""
    keep_build(app)
    ids = [i["id"] for i in client.get("/api/images?per_page=3").get_json()["images"]]
    # The tier threshold was read with the build, once for the index the process serves.
    assert len(statements_during(app, lambda: client.get(f"/images/{ids[1]}"))) == 4
    assert len(statements_during(app, lambda: client.get(f"/images/{ids[0]}"))) == 4
    assert len(statements_during(app, lambda: client.get(f"/api/images/{ids[2]}"))) == 3
    assert statements_during(app, lambda: client.get(f"/images/{ids[1]}")) == []
    assert len(statements_during(app, lambda: client.get("/healthz"))) == 1  # always asks


def test_warming_renders_gallery_then_image_pages_up_to_the_limit(app, client, built):
    app.config.update(PER_PAGE=20, PAGE_CACHE_WARM=10)
    keep_build(app)
    assert warm_pages(app) == 10  # "/", three gallery pages, then six image pages
    pages = app.extensions[EXTENSION].served.pages
    assert list(pages.items)[:4] == [("/", ""), ("/", "page=1"), ("/", "page=2"),
                                                    ("/", "page=3")]
    first = client.get("/api/images?per_page=1").get_json()["images"][0]["id"]
    assert statements_during(app, lambda: client.get("/?page=3")) == []
    assert statements_during(app, lambda: client.get(f"/images/{first}")) == []
    app.config["PAGE_CACHE_WARM"] = 0
    assert warm_pages(app) == 0


def test_errors_are_not_cached(app, client):
    client.get("/images/999999")
    pages = app.extensions[EXTENSION].served.pages
    assert not any("999999" in key[0] for key in pages.items)
    assert client.get("/images/999999").status_code == 404


def page(size: int) -> CachedPage:
    return CachedPage(b"x" * size, "text/plain", '"e"')


def test_the_cache_evicts_least_recently_used_pages_to_stay_under_its_size():
    cache = LRUCache(max_bytes=300)
    for key in "abc":
        cache.put((key, ""), page(100))
    assert cache.get(("a", "")) is not None  # now b is the least recently used
    cache.put(("d", ""), page(100))
    assert cache.get(("b", "")) is None
    assert all(cache.get((key, "")) for key in "acd") and cache.size == 300
    cache.put(("big", ""), page(301))  # larger than the whole cache: not kept
    assert cache.get(("big", "")) is None and len(cache) == 3


def test_a_cached_csv_export_is_still_an_attachment(app, client):
    keep_build(app)  # the second request is answered by the page cache, before Flask
    url = "/api/duplicates/others.csv"
    rendered = client.get(url)
    cached = statements_during(app, lambda: client.get(url))
    assert cached == []  # from the cache indeed
    again = client.get(url)
    assert rendered.status_code == again.status_code == 200
    assert again.data == rendered.data
    assert again.headers["Content-Disposition"] == rendered.headers["Content-Disposition"] \
        == "attachment; filename=duplicates-others.csv"


def test_a_page_cached_before_the_build_was_looked_up_again_is_not_rendered_again(app, client):
    """Past the look-up's time to live the request reaches Flask (one query: the build), but
    the page rendered for that build is sent from the cache, not made again (the map's JSON
    at 100k images takes seconds to make)."""
    rendered = client.get("/api/map")
    app.extensions[EXTENSION].ttl = 0  # every request looks the build up
    statements = statements_during(app, lambda: client.get("/api/map"))
    assert all("indexed_images" not in s and "map_pictures" not in s for s in statements)
    again = client.get("/api/map", headers={"If-None-Match": rendered.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/api/map").data == rendered.data
