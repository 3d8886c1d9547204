"""Every page passes axe-core's audit, with no serious or critical violation, at 1400 and 390 px.

Real photographs and their copies (scikit-image's), real EfficientNet-Lite0 weights, the real
CLI with clusters and a UMAP map, gunicorn, headless Chromium.
"""
import shutil

import pytest
import requests

from scripts.demo_photos import make_duplicate_set
from tests.support.browser import audit, axe_source, chromium, describe
from tests.support.commands import run_build, serve

WIDTHS = (1400, 390)
PHOTOS = ("astronaut", "chelsea", "coffee")


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.fixture(scope="module")
def browser(axe):
    driver = chromium()
    driver.set_script_timeout(120)  # axe on a long page, on a busy machine
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def photo_index(tmp_path_factory):
    """(database URL, thumbnail folder, image folder) of three photographs, each with its
    copies (one of them byte for byte) and its tiles, built with the defaults and Lite0."""
    folder = tmp_path_factory.mktemp("accessible")
    images = folder / "images"
    make_duplicate_set(str(images), PHOTOS)
    shutil.copy(images / "chelsea/original.jpg", images / "chelsea/copy-exact.jpg")
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    result = run_build(images, url, folder / "thumbs", "--model", "efficientnet_lite0",
                       weights="imagenet", map_method="umap")
    assert result.returncode == 0, result.stderr
    return url, folder / "thumbs", images


def audit_at_each_width(browser, axe, pages: dict) -> str:
    """Open each page ({name: function that opens it}) at each width; return what the audit
    found on them, one page after another ("" when nothing)."""
    found = []
    for width in WIDTHS:
        browser.set_window_size(width, 900)
        for name, open_page in pages.items():
            open_page()
            violations = audit(browser, axe)
            if violations:
                found.append(f"{width} px, {name}:\n{describe(violations)}")
    return "\n".join(found)


def visit(browser, url: str, *, ready: str = "body"):
    """Return a function that opens url and waits for the CSS selector `ready` to be there."""
    def open_page():
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait
        browser.get(url)
        WebDriverWait(browser, 60).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready)))
    return open_page


def upload(browser, base: str, file, ready: str):
    """Return a function that searches by `file` on /search and waits for `ready`."""
    def open_page():
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions
        from selenium.webdriver.support.ui import WebDriverWait
        browser.get(base + "/search")
        browser.find_element(By.ID, "search-image").send_keys(str(file))
        browser.find_element(By.CSS_SELECTOR, ".search-form button[type=submit]").click()
        WebDriverWait(browser, 60).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, ready)))
    return open_page


def test_every_page_of_an_index_passes_the_audit(photo_index, browser, axe, tmp_path):
    url, thumbnails, images = photo_index
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("not a picture")
    with serve(url, thumbnails, PER_PAGE="10") as base:
        listed = requests.get(base + "/api/images?per_page=100", timeout=30).json()["images"]
        ids = {image["path"]: image["id"] for image in listed}
        original = f"{base}/images/{ids['chelsea/original.jpg']}"
        tile = f"{base}/images/{ids['coffee/tile-0.jpg']}"
        # The states the audit must see, so that a page that lost them cannot pass by default.
        page = requests.get(original, timeout=30).text
        for tier in ("exact", "near-duplicate", "similar"):
            assert f"tier-{tier}" in page, tier
        assert "cluster-link" in page
        assert "duplicate-group" in requests.get(base + "/duplicates", timeout=30).text

        pages = {
            "gallery": visit(browser, base + "/", ready=".grid img"),
            "gallery page 2": visit(browser, base + "/?page=2", ready=".pagination"),
            "image with copies": visit(browser, original, ready=".copies .tier"),
            "image": visit(browser, tile, ready=".recommendation"),
            "search": visit(browser, base + "/search", ready=".search-form"),
            "search results": upload(browser, base, images / "coffee/copy-small.jpg",
                                     ready=".upload-preview img"),
            "search error": upload(browser, base, not_an_image, ready="#search-error"),
            "duplicates": visit(browser, base + "/duplicates", ready=".duplicate-group"),
            "clusters": visit(browser, base + "/clusters", ready=".cluster-strip"),
            "a cluster": visit(browser, base + "/clusters/0", ready=".grid img"),
            # The grid first: from /map, /map#grid would not load the page again.
            "map, grid view": visit(browser, base + "/map#grid", ready="#map[data-ready=true]"),
            "map": visit(browser, base + "/map", ready="#map[data-ready=true]"),
            "model": visit(browser, base + "/model", ready=".facts-list"),
            "not found": visit(browser, base + "/no/such/page", ready=".error-message"),
            "no such image": visit(browser, base + "/images/999999", ready=".error-message"),
        }
        found = audit_at_each_width(browser, axe, pages)
    assert not found, found


def test_the_pages_of_an_empty_site_pass_the_audit(browser, axe, tmp_path):
    """Before any index is built (the schema made, as `flask db upgrade` makes it): each page
    says so, accessibly."""
    from sqlalchemy import create_engine

    from core.db import ensure_schema
    url = f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    engine = create_engine(url)
    ensure_schema(engine)
    engine.dispose()
    with serve(url, tmp_path / "thumbs") as base:
        assert "No index yet" in requests.get(base + "/", timeout=30).text
        pages = {path: visit(browser, base + path, ready="main")
                 for path in ("/", "/search", "/duplicates", "/clusters", "/clusters/0", "/map",
                              "/model")}
        found = audit_at_each_width(browser, axe, pages)
    assert not found, found


def test_an_index_without_clusters_or_map_built_with_random_weights_passes_the_audit(
        browser, axe, collection, tmp_path):
    """The pages that explain what is missing: no clusters, no map, no near-duplicates, and
    the notice about random weights."""
    url = f"sqlite:///{tmp_path / 'bare.sqlite3'}"
    result = run_build(collection.root / "group-00", url, tmp_path / "thumbs", "--clusters", 0)
    assert result.returncode == 0, result.stderr
    with serve(url, tmp_path / "thumbs") as base:
        assert "random-weights-notice" in requests.get(base + "/", timeout=30).text
        assert "no map" in requests.get(base + "/map", timeout=30).text
        assert "no clusters" in requests.get(base + "/clusters", timeout=30).text
        pages = {path: visit(browser, base + path, ready="main")
                 for path in ("/", "/duplicates", "/clusters", "/map")}
        found = audit_at_each_width(browser, axe, pages)
    assert not found, found
