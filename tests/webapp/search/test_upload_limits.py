"""What one upload may cost a real gunicorn worker: memory, a search slot, a thread."""
import socket
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from benchmarks.upload_memory import added_peak, png, small_jpeg
from tests.support.commands import serve

MB = 1024  # VmHWM is in KB


def worker_pids(url: str) -> list[int]:
    """Return the pids of the gunicorn workers serving `url` (children of its master)."""
    bind = f"127.0.0.1:{urlsplit(url).port}"
    serving = {}
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            if bind in (status.parent / "cmdline").read_bytes().decode(errors="replace"):
                fields = dict(line.split(":\t", 1) for line in status.read_text().splitlines()
                              if ":\t" in line)
                serving[int(status.parent.name)] = int(fields["PPid"])
        except OSError:  # a process that ended while being read
            continue
    return [pid for pid, parent in serving.items() if parent in serving]


def test_an_8000_square_16_bit_png_is_refused_before_decoding(built):
    with serve(built.url, built.thumbnails, workers=1) as base:
        (worker,) = worker_pids(base)
        status, added = added_peak(base, worker, png(8000, 8000, "grey16"))
    assert status == 413 and added < 50 * MB


@pytest.mark.parametrize("kind", ["grey16", "rgba16"])
def test_an_8000_square_png_under_the_cap_adds_at_most_300_mb_to_a_worker(built, kind):
    with serve(built.url, built.thumbnails, workers=1, MAX_UPLOAD_MEGAPIXELS="64") as base:
        (worker,) = worker_pids(base)
        status, added = added_peak(base, worker, png(8000, 8000, kind))
    assert status == 200 and added <= 300 * MB


def test_a_search_while_the_worker_is_busy_gets_503_with_retry_after(built):
    big = png(8000, 8000, "rgba16")  # a few seconds of decoding
    with serve(built.url, built.thumbnails, workers=1, MAX_UPLOAD_MEGAPIXELS="64") as base:
        warm = requests.post(base + "/api/search", files={"image": ("q.jpg", small_jpeg())})
        assert warm.status_code == 200  # the model and index are loaded: the big one decodes
        first = {}
        slow = threading.Thread(target=lambda: first.update(response=requests.post(
            base + "/api/search", files={"image": ("big.png", big)}, timeout=120)))
        slow.start()
        time.sleep(0.5)  # sent (2.5 MB on loopback) and decoding, holding the only slot
        answers = []
        while slow.is_alive():
            answers.append(requests.post(base + "/api/search",
                                         files={"image": ("q.jpg", small_jpeg())}, timeout=60))
        slow.join()
        after = requests.post(base + "/api/search", files={"image": ("q.jpg", small_jpeg())})
    assert first["response"].status_code == 200 and after.status_code == 200
    busy = [a for a in answers if a.status_code == 503]
    assert busy and {a.headers.get("Retry-After") for a in busy} == {"1"}
    assert "busy" in busy[0].json()["error"]


def test_a_slow_client_does_not_block_a_second_one(built):
    with serve(built.url, built.thumbnails, workers=1) as base:
        port = urlsplit(base).port
        with socket.create_connection(("127.0.0.1", port)) as slow:
            slow.sendall(b"POST /api/search HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n--b")
            time.sleep(0.5)  # the worker has read the headers and waits for the body
            started = time.monotonic()
            health = requests.get(base + "/healthz", timeout=10)
            assert health.status_code == 200 and time.monotonic() - started < 5
