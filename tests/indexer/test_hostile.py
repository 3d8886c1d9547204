"""A folder of hostile files: good ones indexed correctly, bad ones skipped with reasons."""
import html
import re

import pytest

from tests.support.commands import run_build
from tests.support.hostile_files import HTML_NAME, make_hostile_folder
from webapp import create_app


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    good, bad = make_hostile_folder(str(root))
    out = tmp_path_factory.mktemp("hostile-index")
    url = f"sqlite:///{out / 'db.sqlite3'}"
    result = run_build(root, url, out / "thumbs", "--k", 3)
    return root, good, bad, url, out / "thumbs", result


def test_job_publishes_the_good_files_and_skips_the_bad_ones_with_reasons(hostile):
    root, good, bad, url, thumbs, result = hostile
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert summary.startswith(f"indexed {len(good)} images, skipped {len(bad)},")
    reasons = dict(re.findall(r"^skipped (.+?): (.+)$", result.stderr, re.M))
    assert set(reasons) == bad
    assert "DecompressionBomb" in reasons["bomb.png"]
    assert all(reasons.values())


def test_the_site_lists_exactly_the_good_files(hostile):
    root, good, bad, url, thumbs, _ = hostile
    client = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(thumbs)}).test_client()
    images = client.get("/api/images?per_page=500").get_json()["images"]
    assert {i["path"] for i in images} == good
    for image in images:
        assert client.get(image["thumbnail_url"]).status_code == 200
        detail = client.get(f"/api/images/{image['id']}").get_json()
        assert len(detail["similar"]) == 3 and detail["width"] > 0


def test_awkward_images_are_decoded_right(hostile):
    root, good, bad, url, thumbs, _ = hostile
    client = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(thumbs)}).test_client()
    by_path = {i["path"]: i for i in client.get("/api/images?per_page=500").get_json()["images"]}
    size = {p: (d["width"], d["height"]) for p, d in
            ((p, client.get(f"/api/images/{i['id']}").get_json()) for p, i in by_path.items())}
    assert size["rotated.jpg"] == (90, 160)  # EXIF orientation applied
    assert size["strip.png"] == (4000, 2) and size["one-pixel.png"] == (1, 1)
    assert size["huge-but-allowed.png"] == (12000, 600)


def test_a_hostile_file_name_comes_back_escaped(hostile):
    root, good, bad, url, thumbs, _ = hostile
    client = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(thumbs)}).test_client()
    image = next(i for i in client.get("/api/images?per_page=500").get_json()["images"]
                 if i["path"] == HTML_NAME)
    for page in (client.get("/?page=1"), client.get(f"/images/{image['id']}")):
        text = page.get_data(as_text=True)
        assert HTML_NAME not in text
        assert html.escape(HTML_NAME) in text
    assert client.get(image["url"]).status_code == 200


def test_strict_makes_any_skip_fatal_and_keeps_the_previous_index(hostile, collection, tmp_path):
    root, *_ = hostile
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    assert run_build(collection.root, url, tmp_path / "t").returncode == 0  # skips, publishes
    result = run_build(root, url, tmp_path / "t", "--strict")
    assert result.returncode == 1
    assert "--strict" in result.stderr.strip().splitlines()[-1]
    client = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    assert client.get("/healthz").get_json()["images"] == len(collection.groups)
