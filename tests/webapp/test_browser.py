"""A person in headless Chromium browses the gallery served by a real gunicorn."""
import pytest
import requests

from tests.support.browser import chromium
from tests.support.commands import K, serve


@pytest.fixture
def server(built):
    """gunicorn app:app against the built index; stopped after the test."""
    with serve(built.url, built.thumbnails) as url:
        yield url


@pytest.fixture
def browser():
    driver = chromium()
    yield driver
    driver.quit()


def test_browse_gallery_open_image_follow_a_recommendation(server, browser, built):
    from selenium.webdriver.common.by import By

    browser.get(server + "/")
    assert f"{len(built.collection.groups)} images" in browser.find_element(By.TAG_NAME, "header").text
    thumbs = browser.find_elements(By.CSS_SELECTOR, ".grid img")
    assert len(thumbs) == len(built.collection.groups)
    first = browser.find_element(By.CSS_SELECTOR, ".grid a")
    first.click()

    assert browser.current_url.startswith(server + "/images/")
    recommendations = browser.find_elements(By.CSS_SELECTOR, ".recommendation")
    assert len(recommendations) == K
    scores = [float(r.find_element(By.CLASS_NAME, "score").text) for r in recommendations]
    assert scores == sorted(scores, reverse=True)
    original = browser.find_element(By.CSS_SELECTOR, "img.original")
    assert browser.execute_script("return arguments[0].naturalWidth", original) > 0

    target = recommendations[0].find_element(By.TAG_NAME, "a").get_attribute("href")
    recommendations[0].find_element(By.TAG_NAME, "a").click()
    assert browser.current_url == target
    heading = browser.find_element(By.CLASS_NAME, "file-name").text
    assert heading in built.collection.groups
    assert len(browser.find_elements(By.CSS_SELECTOR, ".recommendation")) == K


def test_search_by_upload_through_the_page(server, browser, built):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    path = "group-02/picture-03.jpg"
    browser.get(server + "/")
    browser.find_element(By.LINK_TEXT, "Search").click()
    browser.find_element(By.ID, "search-image").send_keys(str(built.collection.root / path))
    browser.find_element(By.CSS_SELECTOR, ".search-form button[type=submit]").click()
    WebDriverWait(browser, 30).until(
        expected_conditions.presence_of_all_elements_located((By.CSS_SELECTOR, ".recommendation")))

    results = browser.find_elements(By.CSS_SELECTOR, ".recommendation")
    assert len(results) == K
    assert float(results[0].find_element(By.CLASS_NAME, "score").text) >= 0.99
    assert results[0].find_element(By.CLASS_NAME, "tier").text == "exact"
    results[0].find_element(By.TAG_NAME, "a").click()
    assert browser.find_element(By.CLASS_NAME, "file-name").text == path


def fits_without_sideways_scroll(browser) -> bool:
    return browser.execute_script(
        "return document.documentElement.scrollWidth <= window.innerWidth")


def test_a_phone_sees_every_page_without_sideways_scroll_and_moves_around(browser, built):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    with serve(built.url, built.thumbnails, PER_PAGE="10") as server:
        browser.get(server + "/?page=3")
        first = browser.find_element(By.CSS_SELECTOR, ".grid a").get_attribute("href")
        for width in (360, 390):
            browser.set_window_size(width, 800)
            for path in ("/", "/?page=3", first, "/search", "/duplicates", "/clusters",
                         "/clusters/0", "/map", "/model"):
                browser.get(path if path.startswith("http") else server + path)
                assert fits_without_sideways_scroll(browser), (width, path)

        # Page numbers, file names under thumbnails, and back from an image to its page.
        browser.get(server + "/")
        browser.find_element(By.CSS_SELECTOR, ".page-numbers").find_element(
            By.LINK_TEXT, "3").click()
        assert browser.current_url.endswith("/?page=3")
        links = browser.find_elements(By.CSS_SELECTOR, ".grid a")
        titles = [link.get_attribute("title") for link in links]
        names = [link.find_element(By.CLASS_NAME, "name").text for link in links]
        assert names == [title.rsplit("/", 1)[-1] for title in titles]
        links[0].click()
        browser.find_element(By.CSS_SELECTOR, ".image-nav a[rel=next]").click()
        assert browser.find_element(By.CLASS_NAME, "file-name").text == titles[1]
        browser.find_element(By.CSS_SELECTOR, ".image-nav a[rel=up]").click()
        assert browser.current_url.endswith("/?page=3")

        # The header's "Search by image": choosing a file searches; the upload shows above.
        picture = built.collection.root / "group-01" / "picture-02.jpg"
        browser.find_element(By.CSS_SELECTOR, ".header-search input[type=file]").send_keys(
            str(picture))
        WebDriverWait(browser, 30).until(expected_conditions.presence_of_all_elements_located(
            (By.CSS_SELECTOR, ".recommendation")))
        preview = browser.find_element(By.CSS_SELECTOR, ".upload-preview img")
        assert browser.execute_script("return arguments[0].naturalWidth", preview) > 0
        assert fits_without_sideways_scroll(browser)


def test_gunicorn_refuses_a_60_mb_upload_and_stays_healthy(server):
    response = requests.post(server + "/api/search", timeout=60,
                             files={"image": ("huge.jpg", b"\xff\xd8" + bytes(60 * 2**20))})
    assert response.status_code == 413 and "20 MB" in response.json()["error"]
    text = requests.post(server + "/api/search", files={"image": ("a.txt", b"text")}, timeout=10)
    assert text.status_code == 400 and "error" in text.json()
    assert requests.get(server + "/healthz", timeout=10).status_code == 200


def test_the_model_page_of_an_autoencoder_fits_a_phone(browser, collection, tmp_path,
                                                       monkeypatch):
    """Its settings, calibration table, loss curves and reconstructions: no sideways scroll."""
    from selenium.webdriver.common.by import By

    from tests.support.commands import run_build
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))
    url = f"sqlite:///{tmp_path / 'ae.sqlite3'}"
    result = run_build(collection.root, url, tmp_path / "t", "--model", "autoencoder",
                       "--epochs", 2, weights="train")
    assert result.returncode == 0, result.stderr
    with serve(url, tmp_path / "t") as server:
        browser.get(server + "/")
        browser.find_element(By.CSS_SELECTOR, ".site-header a.model").click()
        assert browser.current_url == server + "/model"
        for width in (360, 390):
            browser.set_window_size(width, 800)
            browser.get(server + "/model")
            pictures = browser.find_elements(By.CSS_SELECTOR, ".training-picture img")
            assert len(pictures) == 2
            for picture in pictures:
                assert browser.execute_script("return arguments[0].naturalWidth", picture) > 0
            assert fits_without_sideways_scroll(browser), width
