"""Run the web process for real (gunicorn, the Procfile) and check the contract over HTTP."""
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(command: list[str], env: dict, cwd, base_url: str,
          seconds: float = 60) -> subprocess.Popen:
    """Start a server in its own process group; return once /healthz answers 200."""
    # Its output goes to a file: a pipe nobody reads would block it once the access log fills it.
    log = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    process.log = log
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{command[0]} exited with {process.returncode}:\n{stop(process)}")
        try:
            if requests.get(base_url + "/healthz", timeout=2).status_code == 200:
                return process
        except requests.RequestException:  # not listening yet, or workers still booting
            pass
        time.sleep(0.2)
    output = stop(process)
    pytest.fail(f"{command[0]} did not answer within {seconds} s:\n{output}")


def stop(process: subprocess.Popen) -> str:
    """Stop the server and everything it started; return what it printed."""
    try:
        os.killpg(process.pid, signal.SIGTERM)  # the group: honcho's and gunicorn's children too
        process.wait(timeout=30)
    except ProcessLookupError:  # the whole group has exited already
        pass
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    process.log.seek(0)
    return process.log.read()


def all_images(get_json, per_page: int = 100) -> tuple[list[dict], int]:
    """Walk /api/images page by page with `get_json(url)`; return the images and the total."""
    images, page = [], 1
    while True:
        body = get_json(f"/api/images?page={page}&per_page={per_page}")
        if not body["images"]:
            return images, body["total"]
        images += body["images"]
        page += 1


def every_image(client) -> dict[int, dict]:
    """Return {id: image} of every image /api/images lists, through a Flask test client."""
    images, _ = all_images(lambda url: client.get(url).get_json(), per_page=50)
    return {image["id"]: image for image in images}


def check_contract(base: str, total: int, k: int) -> list[dict]:
    """Assert the pages and the API answer as the README says; return the listed images."""
    assert requests.get(base + "/healthz").json() == {"status": "ok", "images": total}
    images, listed_total = all_images(lambda url: requests.get(base + url).json())
    paths = [i["path"] for i in images]
    assert listed_total == total == len(images) == len(set(i["id"] for i in images))
    assert paths == sorted(paths)
    assert all(set(i) == {"id", "path", "url", "thumbnail_url"} for i in images)

    for image in (images[0], images[len(images) // 2], images[-1]):
        detail = requests.get(f"{base}/api/images/{image['id']}").json()
        assert {key: detail[key] for key in image} == image
        assert detail["width"] > 0 and detail["height"] > 0
        similar = detail["similar"]
        assert len(similar) == min(k, total - 1)
        assert image["id"] not in [s["id"] for s in similar]
        assert all(set(s) == {"id", "path", "score", "cosine", "url", "thumbnail_url", "tier"}
                   for s in similar)
        scores = [s["score"] for s in similar]
        assert scores == sorted(scores, reverse=True)
        for url in (image["url"], image["thumbnail_url"]):
            file = requests.get(base + url)
            assert file.status_code == 200 and file.content[:2] == b"\xff\xd8"

        page = requests.get(f"{base}/images/{image['id']}")
        assert page.status_code == 200 and image["path"] in page.text
        assert page.text.count('class="score"') == len(similar)

    gallery = requests.get(base + "/")
    assert gallery.status_code == 200 and f"{total} images" in gallery.text
    again = requests.get(base + "/", headers={"If-None-Match": gallery.headers["ETag"]})
    assert again.status_code == 304
    missing = requests.get(base + "/api/images/999999999")
    assert missing.status_code == 404 and missing.json() == {"error": "Not found"}
    return images
