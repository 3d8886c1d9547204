"""Readers during a rebuild see the old index or the new one: no error, no partial list."""
import threading
import time

import requests

from tests.support.commands import run_build, serve


def hammer(base, ids, stop, seen):
    """GET image details and gallery pages until told to stop; record what came back."""
    with requests.Session() as session:
        while not stop.is_set():
            for image_id in ids:
                r = session.get(f"{base}/api/images/{image_id}", timeout=10)
                seen.append(("detail", r.status_code, len(r.json().get("similar", []))))
            r = session.get(f"{base}/api/images?per_page=100", timeout=10)
            seen.append(("gallery", r.status_code, len(r.json().get("images", []))))


def new_index_seen(url: str, within: float = 10.0) -> dict:
    """Return the detail JSON once it shows k=3 (workers look again every 2 s), or the last."""
    deadline = time.monotonic() + within
    while True:
        after = requests.get(url, timeout=10).json()
        if len(after["similar"]) == 3 or time.monotonic() > deadline:
            return after
        time.sleep(0.2)


def test_readers_never_see_an_error_or_a_partial_index_during_a_rebuild(
        database_url, collection, tmp_path):
    thumbs = tmp_path / "thumbs"
    assert run_build(collection.root, database_url, thumbs, "--k", 5).returncode == 0
    total = len(collection.groups)
    with serve(database_url, thumbs) as base:
        ids = [i["id"] for i in requests.get(f"{base}/api/images?per_page=6").json()["images"]]
        stop, seen = threading.Event(), []
        reader = threading.Thread(target=hammer, args=(base, ids, stop, seen))
        reader.start()
        try:
            rebuild = run_build(collection.root, database_url, thumbs, "--k", 3)
        finally:
            stop.set()
            reader.join(timeout=30)
        assert rebuild.returncode == 0, rebuild.stderr
        after = new_index_seen(f"{base}/api/images/{ids[0]}")
    assert len(seen) > 50
    assert {status for _, status, _ in seen} == {200}
    # Whole lists of the old index (k=5) or of the new one (k=3), never fewer; every page full.
    assert {n for kind, _, n in seen if kind == "detail"} <= {5, 3}
    assert {n for kind, _, n in seen if kind == "gallery"} == {total}
    assert len(after["similar"]) == 3
