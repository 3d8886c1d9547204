#!/usr/bin/env python
"""Time the map page at N images with its atlas pictures, in headless Chromium.

    python benchmarks/map_benchmark.py [--points 100000] [--steps 120] [--grid]

The page (templates/map.html's canvas, static/map.js and map_controls.js) is served with a
/api/map body and atlas sheets from a temporary folder on the loopback, as a CDN or the
site's static files would send them. The places are clustered like a UMAP map (tight
families of a few images and a spread of groups); the zoom levels and the order of the
pictures in the sheets are the job's own (indexer/explore), and each sheet's cells are real
photographs (scikit-image's and scikit-learn's), cut and tinted so that no two look alike.
Prints the time from opening the page to the first picture drawn and to every sheet the
first view needs, then the draw times (what map.js spends per frame) and the intervals
between frames while the map is panned with the arrow keys and zoomed with the wheel.
With --grid, the same on the grid view (its cells computed as the job does: seconds more).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np
from PIL import Image, ImageEnhance

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from indexer.explore import atlases  # noqa: E402
from indexer.explore.map_pictures import grid_places  # noqa: E402
from indexer.explore.zoom_levels import as_sent, zoom_levels  # noqa: E402
from samples.pictures import photographs  # noqa: E402

PAGE = """<!doctype html><html><body>
<div class="map-frame"><canvas id="map" tabindex="0" data-points="points.json"
  data-details="details.json" data-page-before="/images/" data-page-after=""></canvas>
<div id="map-box" hidden></div><div id="map-tip" hidden></div></div>
<section id="map-selection" hidden></section>
<script src="map_layouts.js"></script><script src="map.js"></script>
<script src="map_controls.js"></script></body></html>"""
# Pan with the arrow keys and zoom with the wheel, one event per frame; collect the times.
MOVE = """
  var done = arguments[arguments.length - 1], steps = arguments[0], map = window.similarMap;
  var canvas = map.canvas, n = 0, last = null, intervals = [];
  var keys = ['ArrowLeft', 'ArrowUp', 'ArrowRight', 'ArrowDown'];
  map.drawTimes().length = 0;
  var before = map.drawTimes().length;
  function step(now) {
    if (last !== null) intervals.push(now - last);
    last = now;
    if (n % 3 === 2) {
      canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: (n % (steps / 2)) < steps / 4 ? -120 : 120,
        clientX: 600 + (n % 7) * 20, clientY: 400, bubbles: true, cancelable: true}));
    } else {
      canvas.dispatchEvent(new KeyboardEvent('keydown', {key: keys[Math.floor(n / 8) % 4],
        bubbles: true, cancelable: true}));
    }
    if (++n < steps) requestAnimationFrame(step);
    else requestAnimationFrame(function () { done([map.drawTimes().slice(-steps), intervals]); });
  }
  requestAnimationFrame(step);"""


def clustered_places(count: int, rng: np.random.Generator) -> np.ndarray:
    """Return places like a UMAP map of photographs: groups of tight families, in [0, 1]."""
    groups = rng.random((max(1, count // 2000), 2)) * 0.9 + 0.05
    families = groups[rng.integers(0, len(groups), max(1, count // 8))] + \
        rng.normal(0, 0.02, (max(1, count // 8), 2))
    places = families[rng.integers(0, len(families), count)] + rng.normal(0, 0.002, (count, 2))
    return np.clip(places, 0, 1)


def small_pictures(count: int, rng: random.Random) -> list[Image.Image]:
    """Return `count` 64-pixel squares cut from real photographs, each cut and tinted its own way."""
    photos = list(photographs().values())
    squares = []
    for _ in range(count):
        photo = photos[rng.randrange(len(photos))]
        side = rng.randint(min(photo.size) // 4, min(photo.size))
        x, y = rng.randint(0, photo.width - side), rng.randint(0, photo.height - side)
        square = photo.crop((x, y, x + side, y + side)).resize((atlases.CELL, atlases.CELL))
        squares.append(ImageEnhance.Color(square).enhance(rng.uniform(0.3, 1.7)))
    return squares


def write_site(folder: str, count: int, grid: bool) -> None:
    """Write the page, its scripts, /api/map's body and the atlas sheets into `folder`."""
    for script in ("map_layouts.js", "map.js", "map_controls.js"):
        shutil.copy(os.path.join(ROOT, "static", script), folder)
    with open(os.path.join(folder, "index.html"), "w") as f:
        f.write(PAGE.replace("<canvas", '<canvas style="display:block;width:1200px;height:800px"'))
    rng = np.random.default_rng(0)
    places = as_sent(clustered_places(count, rng))
    levels = zoom_levels(places)
    extra = {}
    if grid:  # as the job does: map_pictures.py
        cells = grid_places(places)
        extra = {"grid": as_sent(cells).tolist(), "grid_levels": zoom_levels(cells).tolist()}
    sheet_levels = np.minimum(levels, extra["grid_levels"]) if grid else levels
    order = atlases.atlas_order(places, sheet_levels)
    slots = np.empty(count, dtype=np.int64)
    slots[order] = np.arange(count)
    per_sheet = atlases.COLUMNS ** 2
    squares = small_pictures(2048, random.Random(0))
    names = []
    for number in range(-(-count // per_sheet)):
        members = min(per_sheet, count - number * per_sheet)
        sheet = Image.new("RGB", (atlases.COLUMNS * atlases.CELL,
                                  -(-members // atlases.COLUMNS) * atlases.CELL))
        for cell in range(members):
            sheet.paste(squares[(number * 7 + cell * 13) % len(squares)],
                        ((cell % atlases.COLUMNS) * atlases.CELL, (cell // atlases.COLUMNS) * atlases.CELL))
        names.append(f"sheet-{number}.jpg")
        sheet.save(os.path.join(folder, names[-1]), "JPEG", quality=atlases.QUALITY)
    body = {"points": [[i + 1, float(x), float(y), int(rng.integers(12))]
                       for i, (x, y) in enumerate(places)],
            "levels": levels.tolist(), "slots": slots.tolist(),
            "atlas": {"cell": atlases.CELL, "columns": atlases.COLUMNS, "urls": names}, **extra}
    with open(os.path.join(folder, "points.json"), "w") as f:
        json.dump(body, f, separators=(",", ":"))
    with open(os.path.join(folder, "details.json"), "w") as f:
        json.dump({"images": []}, f)


def percentile(values, share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=120)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--grid", action="store_true", help="time the grid view instead")
    args = parser.parse_args()
    from tests.support.browser import chromium
    folder = tempfile.mkdtemp()
    tick = time.perf_counter()
    write_site(folder, args.points, args.grid)
    size = os.path.getsize(os.path.join(folder, "points.json")) / 2**20
    print(f"{args.points} images: site written in {time.perf_counter() - tick:.1f} s "
          f"(/api/map body {size:.1f} MB, {-(-args.points // 256)} sheets)")
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(args.port), "--bind",
                               "127.0.0.1", "-d", folder], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    browser = None
    try:
        time.sleep(1)
        browser = chromium(1280, 900)
        page = f"http://127.0.0.1:{args.port}/index.html" + ("#grid" if args.grid else "")
        browser.get(page)
        while not browser.execute_script(
                "return window.similarMap.atlasReady() && window.similarMap.firstPictureAt()"):
            time.sleep(0.02)
        first, ready, drawn, sheets = browser.execute_script(
            "var m = window.similarMap; return [m.firstPictureAt(), performance.now(), "
            "m.pictures().length, m.sheetsAsked()]")
        print(f"first picture on screen {first / 1000:.2f} s after opening the page; "
              f"all {drawn} pictures of the first view ({sheets} sheets) by {ready / 1000:.2f} s")
        draws, intervals = browser.execute_async_script(MOVE, args.steps)
        sheets = browser.execute_script("return window.similarMap.sheetsAsked()")
        print(f"panning and zooming ({sheets} sheets asked for by then), {len(draws)} draws: median {percentile(draws, .5):.1f} ms, "
              f"p90 {percentile(draws, .9):.1f} ms, max {max(draws):.1f} ms; frame intervals "
              f"median {percentile(intervals, .5):.1f} ms, p90 {percentile(intervals, .9):.1f} ms")
    finally:
        if browser:
            browser.quit()
        server.terminate()
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
