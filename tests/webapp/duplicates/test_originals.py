"""Duplicates a user can act on: copies grouped apart from the parts of a photograph, the
original kept, copies apart from recommendations, a clean-up that can be undone.

Real photographs (scikit-image's and scikit-learn's), real EfficientNet-Lite0 weights, the
real CLI, SQLite and PostgreSQL.
"""
import contextlib
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
from datetime import datetime

import pytest
from PIL import Image

from tests.support.commands import ROOT, run_build
from tests.support.databases import new_postgres_database
from scripts.demo_photos import make_duplicate_set, photographs, tiles
from webapp import create_app
from webapp.duplicates.keeper import Origin, choose, parse_folders, parse_rules
from core.picture_facts import jpeg_quality, read_facts
from core.pixel_match import pixel_similarity, same_picture, signature


PHOTOS = ("astronaut", "chelsea", "coffee", "grass", "hubble_deep_field", "motorcycle")


def test_jpeg_quality_is_read_from_the_quantisation_tables():
    picture = photographs(["chelsea"])["chelsea"]
    for quality in (30, 55, 75, 92, 98):
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=quality)
        assert read_facts(out.getvalue()[:65536]).jpeg_quality == quality
    assert jpeg_quality({0: [1] * 64}) == 100 and jpeg_quality(None) is None
    out = io.BytesIO()
    picture.save(out, "PNG")
    assert read_facts(out.getvalue()).lossless and read_facts(b"not an image").format is None


def test_pixels_tell_copies_from_parts_of_a_photograph():
    """Tiles of a texture score like its copies by cosine; their pixels do not match."""
    photos = photographs(["grass", "hubble_deep_field", "astronaut", "coffee"])
    for name in ("grass", "hubble_deep_field", "astronaut"):
        photo = photos[name]
        original = signature(photo)
        half = photo.resize((photo.width // 2, photo.height // 2))
        assert same_picture(original, signature(half))
        assert same_picture(original, signature(photo.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
        for tile in tiles(photo):
            assert pixel_similarity(original, signature(tile)) < 0.9
    turned = signature(photos["coffee"].transpose(Image.Transpose.ROTATE_90))
    coffee = signature(photos["coffee"])
    assert not same_picture(coffee, turned) and same_picture(coffee, turned, "dihedral")


def origin(path, **facts):
    base = dict(width=100, height=100, file_size=1000, format="JPEG", jpeg_quality=90)
    return Origin(path, **{**base, **facts})


def test_keeper_rules_in_their_order_with_a_reason():
    rules = parse_rules(None)
    original = origin("a/IMG_1.jpg", jpeg_quality=92, captured_at=datetime(2019, 5, 1))
    warm = origin("a/IMG_1-warm.jpg", jpeg_quality=98, file_size=5000, central_gap=0.03)
    small = origin("a/small.jpg", width=50, height=50)
    keep, why = choose([warm, small, original], rules)
    assert keep == 2 and why.startswith("taken first: 2019-05-01")
    # Without a capture time: the colour edit is the outlier; then quality beats a re-encode.
    original.captured_at = None
    reencoded = origin("a/IMG_1 (2).jpg", jpeg_quality=55, central_gap=0.004)
    keep, why = choose([reencoded, warm, original], rules)
    assert keep == 2 and why == "highest quality: JPEG quality 92 against JPEG quality 55"
    assert choose([origin("b.png", format="PNG"), original], rules)[0] == 0  # lossless
    assert choose([warm, original], parse_rules("size"))[0] == 0
    # A file in a protected folder is kept before any rule is asked.
    kept = origin("keep/small.jpg", width=50, height=50, protected=True)
    assert choose([original, kept], rules) == (1, "in a protected folder")
    assert parse_folders(" a/, /b ,") == ("a/", "b/")
    with pytest.raises(ValueError, match="biggest"):
        parse_rules("pixels,biggest")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dupes(request, tmp_path_factory):
    """(client, folder, database URL) of an index of six photographs, each with four copies
    and four quarter tiles, a copy named like a spreadsheet formula, built with Lite0."""
    folder = tmp_path_factory.mktemp(f"originals-{request.param}")
    kinds = make_duplicate_set(str(folder / "images"), PHOTOS)
    shutil.copy(folder / "images/coffee/copy-q55.jpg", folder / "images/=HYPERLINK(1).jpg")
    kinds["=HYPERLINK(1).jpg"] = "copy"
    with contextlib.ExitStack() as stack:
        url = (f"sqlite:///{folder / 'index.sqlite3'}" if request.param == "sqlite" else
               stack.enter_context(new_postgres_database(
                   request.getfixturevalue("postgres_server"))))
        result = run_build(folder / "images", url, folder / "thumbs", "--model",
                           "efficientnet_lite0", weights="imagenet")
        assert result.returncode == 0, result.stderr
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(folder / "thumbs")})
        yield app.test_client(), folder, url, kinds
        with app.app_context():
            from core.db import db
            db.engine.dispose()


def test_groups_hold_copies_never_tiles_and_keep_the_original(dupes):
    client, _, _, kinds = dupes
    body = client.get("/api/duplicates?per_page=100").get_json()
    threshold = body["threshold"]
    photo_groups = [g for g in body["groups"]
                    if any(kinds[i["path"]] == "original" for i in g["images"])]
    assert len(photo_groups) == len(PHOTOS)
    for group in photo_groups:
        kept = [i for i in group["images"] if i["keep"]]
        assert [kinds[i["path"]] for i in kept] == ["original"], group
        assert {kinds[i["path"]] for i in group["images"]} == {"original", "copy"}
        assert group["weakest"]["score"] >= threshold and group["reason"]
        assert all(i["score"] >= threshold for i in group["images"])
    # Every photograph's re-encoded, smaller and cropped copies are in its group.
    grouped = {i["path"] for g in photo_groups for i in g["images"]}
    for name in PHOTOS:
        assert {f"{name}/copy-{e}.jpg" for e in ("q55", "small", "cropped")} <= grouped


def test_the_removal_list_names_no_original_and_is_spreadsheet_safe(dupes):
    client, _, _, kinds = dupes
    text = client.get("/api/duplicates/others.csv").get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and all(kinds.get(r["path"].lstrip("'")) == "copy" for r in rows)
    cells = [cell for row in csv.reader(io.StringIO(text)) for cell in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
    assert "'=HYPERLINK(1).jpg" in cells


def test_an_original_shows_its_copies_apart_and_a_distinct_list(dupes):
    client, _, _, kinds = dupes
    ids = {i["path"]: i["id"] for i in
           client.get("/api/images?per_page=500").get_json()["images"]}
    body = client.get(f"/api/images/{ids['astronaut/original.jpg']}").get_json()
    copies = {c["path"] for c in body["copies"]}
    assert {f"astronaut/copy-{e}.jpg" for e in ("q55", "small", "cropped")} <= copies
    assert all(kinds[c] == "copy" and c.startswith("astronaut/") for c in copies)
    assert {c["tier"] for c in body["copies"]} == {"near-duplicate"}
    distinct = [d["path"] for d in body["distinct"]]
    assert len(distinct) == 10 and not copies & set(distinct)
    # None of them a copy of another: at most one file of each photograph's copies.
    families = [p.split("/")[0] for p in distinct if kinds[p] != "tile"]
    assert len(families) == len(set(families))
    assert [s["path"] for s in body["similar"]][:3] != distinct[:3]  # the stored list stays
    html = client.get(f"/images/{ids['astronaut/original.jpg']}").get_data(as_text=True)
    assert '<section class="copies">' in html


def test_an_uploaded_copy_of_a_file_finds_that_file_first(dupes):
    client, folder, _, _ = dupes
    data = (folder / "images/chelsea/copy-small.jpg").read_bytes()
    results = client.post("/api/search", data={"image": (io.BytesIO(data), "x.jpg")}
                          ).get_json()["results"]
    assert (results[0]["path"], results[0]["tier"], results[0]["score"]) == (
        "chelsea/copy-small.jpg", "exact", 1.0)


def folder_digest(root) -> dict:
    return {os.path.relpath(os.path.join(d, f), root):
            hashlib.sha256(open(os.path.join(d, f), "rb").read()).hexdigest()
            for d, _, files in os.walk(root) for f in files}


def dedupe(*args):
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "dedupe.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)


def test_dedupe_moves_the_copies_and_undo_puts_every_file_back(dupes, tmp_path):
    _, folder, url, kinds = dupes
    before = folder_digest(folder / "images")
    dry = dedupe("--database-url", url, "--move-to", tmp_path / "dry", "--dry-run")
    assert dry.returncode == 0 and "would move" in dry.stdout.splitlines()[-1]
    assert folder_digest(folder / "images") == before
    inside = dedupe("--database-url", url, "--move-to", folder / "images/moved")
    assert inside.returncode == 1 and "inside the collection" in inside.stderr
    # A copy changed since indexing stays where it is.
    changed = folder / "images/chelsea/copy-q55.jpg"
    changed.write_bytes(changed.read_bytes() + b"\0")
    edited = folder_digest(folder / "images")
    moved = dedupe("--database-url", url, "--move-to", tmp_path / "moved")
    assert moved.returncode == 0, moved.stderr
    assert "left chelsea/copy-q55.jpg: changed since indexing" in moved.stderr
    gone = set(edited) - set(folder_digest(folder / "images"))
    assert gone and all(kinds[p] == "copy" for p in gone if p in kinds)
    assert "chelsea/copy-q55.jpg" not in gone
    assert folder_digest(tmp_path / "moved").keys() == gone | {"manifest.jsonl"}
    undone = dedupe("--undo", tmp_path / "moved/manifest.jsonl")
    assert undone.returncode == 0 and f"put back {len(gone)} file(s)" in undone.stdout
    assert folder_digest(folder / "images") == edited


def test_protected_folders_are_kept_first_and_never_listed_for_removal(dupes):
    client, folder, url, kinds = dupes
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(folder / "thumbs"),
                      "DUPLICATE_PROTECTED": parse_folders("chelsea")})
    protected = app.test_client()
    groups = protected.get("/api/duplicates?per_page=100").get_json()["groups"]
    chelsea = next(g for g in groups if g["images"][0]["path"].startswith("chelsea/"))
    assert all(i["protected"] for i in chelsea["images"])
    # Every member protected: the rules still choose among them, and keep the original.
    assert chelsea["images"][0]["path"] == "chelsea/original.jpg" and chelsea["images"][0]["keep"]
    rows = list(csv.DictReader(io.StringIO(
        protected.get("/api/duplicates/others.csv").get_data(as_text=True))))
    assert rows and not [r for r in rows if r["path"].startswith("chelsea/")]
    assert [r for r in rows if r["path"].startswith("coffee/")]  # others still listed
    with app.app_context():
        from core.db import db
        db.engine.dispose()
