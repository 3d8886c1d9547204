"""A person in headless Chromium browses the gallery served by a real gunicorn."""
import os
import shutil
import sys

import pytest

import live_server
from conftest import K, ROOT

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"


@pytest.fixture
def server(built):
    """gunicorn app:app on a free port, against the built index; stopped after the test."""
    port = live_server.free_port()
    env = dict(os.environ, DATABASE_URL=built.url, THUMBNAIL_DIR=str(built.thumbnails))
    gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
    url = f"http://127.0.0.1:{port}"
    process = live_server.start([gunicorn, "-b", f"127.0.0.1:{port}", "-w", "2", "app:app"],
                                env, ROOT, url)
    yield url
    live_server.stop(process)


@pytest.fixture
def browser():
    if not (shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)):
        reason = "Debian's chromium and chromium-driver are not installed (make test installs them as root)"
        if os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(reason)
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--window-size=1280,900"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
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
