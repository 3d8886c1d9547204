"""Two folders compared: each image of A finds its copy in B first, with the site's tiers."""
import csv
import io
import json
import subprocess
import sys

from tests.support.commands import ROOT
from scripts.demo_photos import make_families

PHOTOS = ("chelsea", "coffee", "rocket", "moon")


def compare(a, b, url, *extra):
    cmd = [sys.executable, str(ROOT / "scripts" / "compare_folders.py"), str(a), str(b),
           "--model", "efficientnet_lite0", "--database-url", url, "--no-progress", *extra]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_each_image_of_a_finds_its_copy_in_b_first(tmp_path):
    families, a, b = tmp_path / "families", tmp_path / "a", tmp_path / "b"
    make_families(str(families))
    a.mkdir()
    b.mkdir()
    for photo in PHOTOS:  # A: the photographs; B: a crop of each, and another photograph
        (a / f"{photo}.jpg").write_bytes((families / photo / "original.jpg").read_bytes())
        (b / f"copy-of-{photo}.jpg").write_bytes((families / photo / "crop-a.jpg").read_bytes())
    (b / "astronaut.jpg").write_bytes((families / "astronaut" / "original.jpg").read_bytes())
    (b / "coffee-again.jpg").write_bytes((a / "coffee.jpg").read_bytes())  # an exact copy
    (a / "broken.jpg").write_text("not an image")
    url = f"sqlite:///{tmp_path / 'store.sqlite3'}"

    first = compare(a, b, url, "--k", "3")
    assert first.returncode == 0, first.stderr
    assert "skipped broken.jpg: " in first.stderr
    # 10 readable files, 9 contents: the exact copy is embedded once, by its content hash.
    assert "(embedded 9," in first.stderr.splitlines()[-1]
    rows = list(csv.DictReader(io.StringIO(first.stdout)))
    assert first.stdout.splitlines()[0] == "a,b,score,tier"
    assert len(rows) == 3 * len(PHOTOS)
    best = {row["a"]: row for row in rows[::3]}
    assert best["coffee.jpg"]["b"] == "coffee-again.jpg" and best["coffee.jpg"]["tier"] == "exact"
    for photo in set(PHOTOS) - {"coffee"}:
        assert best[f"{photo}.jpg"]["b"] == f"copy-of-{photo}.jpg"
    for i in range(0, len(rows), 3):  # best first within each image of A
        scores = [float(row["score"]) for row in rows[i:i + 3]]
        assert scores == sorted(scores, reverse=True)

    again = compare(a, b, url, "--k", "1", "--out", str(tmp_path / "matches.json"))
    assert again.returncode == 0 and "(embedded 0," in again.stderr.splitlines()[-1]
    matches = json.loads((tmp_path / "matches.json").read_text())["matches"]
    assert [(m["a"], m["b"]) for m in matches] == [(r["a"], r["b"]) for r in rows[::3]]
