"""Search by uploaded image: POST /api/search and the /search page, against built indexes."""
import io
import re
import sqlite3
import struct
import subprocess
import sys
import time
import zlib

import pytest
from PIL import Image

from tests.support.commands import K, ROOT
from webapp import create_app
from core.db import db, ensure_schema


def upload(client, data: bytes, url="/api/search", field="image", name="query.jpg", **form):
    return client.post(url, data={field: (io.BytesIO(data), name), **form},
                       content_type="multipart/form-data")


def ids_by_path(client) -> dict:
    images = client.get("/api/images?per_page=500").get_json()["images"]
    return {i["path"]: i["id"] for i in images}


def jpeg(img: Image.Image, quality=85) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def png_header(width: int, height: int) -> bytes:
    """Return a PNG that declares width x height pixels and holds one row: a bomb's header."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\0" * (width + 1))) + chunk(b"IEND", b""))


def test_collection_images_find_themselves_first(client, built):
    ids = ids_by_path(client)
    paths = sorted(built.collection.groups)[::7]
    for path in paths:
        response = upload(client, (built.collection.root / path).read_bytes())
        assert response.status_code == 200, response.get_json()
        results = response.get_json()["results"]
        assert len(results) == K
        assert set(results[0]) == {"id", "path", "score", "cosine", "url", "thumbnail_url",
                                   "tier"}
        assert (results[0]["id"], results[0]["path"]) == (ids[path], path)
        assert results[0]["score"] >= 0.99 and results[0]["tier"] == "exact"
        scores = [r["score"] for r in results]
        assert scores == sorted(scores, reverse=True) and all(-1 <= s <= 1 for s in scores)


def test_a_transformed_copy_finds_its_original(client, built):
    path = "group-03/picture-00.jpg"
    original = Image.open(built.collection.root / path)
    w, h = original.size
    copy = original.crop((w // 30, h // 30, w - w // 30, h - h // 30)).resize((w // 2, h // 2))
    results = upload(client, jpeg(copy, quality=60)).get_json()["results"]
    assert results[0]["path"] == path
    # Random weights: no near-duplicate tier is claimed (test_tiers has it with real weights).
    assert results[0]["tier"] == "similar"
    mates = [r for r in results if built.collection.groups.get(r["path"]) == 3]
    assert len(mates) >= 3  # its group's other transformed copies come next


def test_k_defaults_to_the_index_k_and_can_be_asked_for(client, built):
    data = (built.collection.root / "group-01/picture-02.jpg").read_bytes()
    assert len(upload(client, data, k="3").get_json()["results"]) == 3
    assert len(client.post("/api/search?k=7", data={"image": (io.BytesIO(data), "q.jpg")})
               .get_json()["results"]) == 7
    for bad in ("0", "x", "101"):
        response = upload(client, data, k=bad)
        assert response.status_code == 400 and "k must" in response.get_json()["error"]


@pytest.mark.parametrize("data,field,message", [
    (b"just some text\n", "image", "not an image"),
    (b"", "image", "empty"),
    (b"\xff\xd8\xff\xe0" + b"\0" * 100, "image", "not an image"),  # a JPEG cut short
    (jpeg(Image.new("RGB", (40, 30))), "file", "field named 'image'"),
])
def test_bad_uploads_get_400_with_a_message(client, data, field, message):
    response = upload(client, data, field=field)
    assert response.status_code == 400
    assert message in response.get_json()["error"]


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
@pytest.mark.parametrize("width,height", [(30_000, 30_000), (10_000, 10_000), (8000, 6300)])
def test_decompression_bombs_are_refused_without_decoding(client, width, height):
    """Over twice Pillow's limit it refuses at open; over MAX_UPLOAD_MEGAPIXELS (50), the
    site refuses before decoding."""
    started = time.perf_counter()
    response = upload(client, png_header(width, height), name="bomb.png")
    assert response.status_code == 413
    assert "too large to decode safely" in response.get_json()["error"]
    assert "limited to 50 megapixels" in response.get_json()["error"]
    assert time.perf_counter() - started < 2  # decoding 100+ megapixels would take longer


def test_uploads_over_the_limit_get_413_and_the_site_stays_healthy(built):
    app = create_app({"SQLALCHEMY_DATABASE_URI": built.url, "THUMBNAIL_DIR": str(built.thumbnails),
                      "MAX_UPLOAD_MB": 1, "MAX_CONTENT_LENGTH": 1024 * 1024})
    client = app.test_client()
    response = upload(client, b"\xff\xd8" + b"\0" * (2 * 1024 * 1024))
    assert response.status_code == 413
    assert response.get_json() == {"error": "Uploads are limited to 1 MB"}
    page = upload(client, b"\0" * (2 * 1024 * 1024), url="/search")
    assert page.status_code == 413 and "Uploads are limited to 1 MB" in page.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.get_json()["images"] > 0
    ok = upload(client, (built.collection.root / "group-00/picture-00.jpg").read_bytes())
    assert ok.status_code == 200 and ok.get_json()["results"][0]["score"] >= 0.99


def test_search_page_shows_results_linking_to_their_pages(client, built):
    form = client.get("/search").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in form and 'name="image"' in form
    path = "group-05/picture-01.jpg"
    html = upload(client, (built.collection.root / path).read_bytes(), url="/search")
    text = html.get_data(as_text=True)
    assert html.status_code == 200 and text.count('class="score"') == K
    assert f'/images/{ids_by_path(client)[path]}"' in text and 'class="tier">exact' in text


def test_search_page_explains_a_bad_upload(client):
    response = upload(client, b"hello", url="/search", name="notes.txt")
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert 'role="alert"' in text and "not an image" in text and 'name="image"' in text


def test_pages_have_no_inline_script(client):
    for url in ("/", "/search", "/duplicates"):
        html = client.get(url).get_data(as_text=True)
        assert "<script>" not in html and not re.search(r"\son[a-z]+=", html)
        assert all("src=" in tag.split(">")[0] for tag in html.split("<script")[1:])
        assert 'action="/search"' in html  # the header's search box


def test_uploads_stay_in_memory(app):
    """Werkzeug spools files over 500 KB to disk; the app's request class does not."""
    from flask import Request
    from werkzeug.test import EnvironBuilder
    def environ():
        data = {"image": (io.BytesIO(b"\0" * (2 * 1024 * 1024)), "big.jpg")}
        return EnvironBuilder(method="POST", data=data).get_environ()
    assert Request(environ()).files["image"].stream._rolled  # the default: on disk
    assert isinstance(app.request_class(environ()).files["image"].stream, io.BytesIO)


def test_searching_loads_no_torch(built):
    path = built.collection.root / "group-00/picture-00.jpg"
    code = f"""
import io, sys
from webapp import create_app
from core.db import ensure_schema
app = create_app({{"SQLALCHEMY_DATABASE_URI": {built.url!r}}})
data = open({str(path)!r}, "rb").read()
response = app.test_client().post("/api/search", data={{"image": (io.BytesIO(data), "q.jpg")}})
print(response.status_code, sorted(m for m in ("torch", "torchvision") if m in sys.modules))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "200 []"


@pytest.mark.parametrize("built", ["sqlite"], indirect=True)
def test_search_says_why_it_is_unavailable(client, built, tmp_path):
    data = (built.collection.root / "group-00/picture-00.jpg").read_bytes()
    assert upload(client, data).status_code == 200  # this process has that index loaded
    empty = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'empty.sqlite3'}"})
    with empty.app_context():
        ensure_schema(db.engine)
    response = upload(empty.test_client(), data)
    assert response.status_code == 503 and "no index" in response.get_json()["error"]

    # The same index as if built before search existed: the same build id, no embedder.
    old = tmp_path / "old.sqlite3"
    with sqlite3.connect(built.url.removeprefix("sqlite:///")) as source, \
            sqlite3.connect(old) as target:
        source.backup(target)
        target.execute("DELETE FROM embedders")
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{old}"})
    response = upload(app.test_client(), data)
    assert response.status_code == 503 and "re-run" in response.get_json()["error"]
    # Without a calibrated threshold the pages still work, telling only exact copies apart.
    image_id = ids_by_path(client)["group-00/picture-00.jpg"]
    similar = app.test_client().get(f"/api/images/{image_id}").get_json()["similar"]
    assert [s["tier"] for s in similar] == ["similar"] * K
