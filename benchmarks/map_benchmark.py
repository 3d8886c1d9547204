#!/usr/bin/env python
"""Time static/map.js drawing N random points in headless Chromium, zooming in and out.

    python benchmarks/map_benchmark.py [--points 100000] [--steps 60]

A page with the map's canvas and a points file are served from a temporary folder on the
loopback; the script zooms with wheel events and prints the draw times that the map keeps.
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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGE = """<!doctype html><html><body>
<div class="map-frame"><canvas id="map" width="1200" height="800" data-points="points.json"
  data-details="details.json" data-page-before="/images/" data-page-after=""></canvas>
<div id="map-tip" hidden></div></div><script src="map.js"></script></body></html>"""
ZOOM = """
  var done = arguments[arguments.length - 1], canvas = document.getElementById('map'), n = 0;
  var steps = arguments[0];
  function step() {
    canvas.dispatchEvent(new WheelEvent('wheel', {deltaY: n < steps / 2 ? -60 : 60,
      clientX: 600, clientY: 400, bubbles: true, cancelable: true}));
    requestAnimationFrame(function () { setTimeout(function () {
      if (++n < steps) step(); else done(window.similarMap.drawTimes()); }, 0); });
  }
  step();"""


def write_site(folder: str, count: int) -> None:
    shutil.copy(os.path.join(ROOT, "static", "map.js"), folder)
    with open(os.path.join(folder, "index.html"), "w") as f:
        f.write(PAGE.replace("<canvas", '<canvas style="width:1200px;height:800px"'))
    rng = random.Random(0)
    points = [[i + 1, round(rng.random(), 4), round(rng.random(), 4), rng.randrange(100)]
              for i in range(count)]
    with open(os.path.join(folder, "points.json"), "w") as f:
        json.dump({"points": points}, f, separators=(",", ":"))
    with open(os.path.join(folder, "details.json"), "w") as f:
        json.dump({"images": []}, f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    folder = tempfile.mkdtemp()
    write_site(folder, args.points)
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(args.port), "--bind",
                               "127.0.0.1", "-d", folder], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(flag)
    browser = None
    try:
        time.sleep(1)
        browser = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        started = time.perf_counter()
        browser.get(f"http://127.0.0.1:{args.port}/index.html")
        while browser.execute_script(
                "return document.getElementById('map').getAttribute('data-ready')") != "true":
            time.sleep(0.05)
        print(f"{args.points} points: loaded and first drawn in "
              f"{time.perf_counter() - started:.2f} s")
        times = sorted(browser.execute_async_script(ZOOM, args.steps))
        print(f"{len(times)} draws: median {times[len(times) // 2]:.1f} ms, "
              f"p90 {times[int(len(times) * 0.9)]:.1f} ms, max {times[-1]:.1f} ms")
    finally:
        if browser:
            browser.quit()
        server.terminate()
        shutil.rmtree(folder)


if __name__ == "__main__":
    main()
