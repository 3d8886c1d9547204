#!/usr/bin/env python
"""A folder against its copy on a local S3-compatible server: what the object-store path costs.

    object_store_benchmark.py IMAGE_DIR [build_index.py options]

Starts moto's S3 server on a loopback port (moto is in requirements-test.txt), uploads the
folder, then times the whole job: from the folder, from the prefix, from the prefix with the
thumbnails written to the bucket, and the last again with --ray local; each into a fresh
database. Loopback has no network latency: this measures the path's own cost (a GET to hash
and another to decode each object, a PUT per thumbnail), not a real store's. Prints one JSON
object last.
"""
import json
import logging
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from benchmarks.autoencoder_benchmark import cpu_name  # noqa: E402
from tests.support.index_lists import active_lists  # noqa: E402
from benchmarks.ray_benchmark import timed_build, warm_up  # noqa: E402

BUCKET = "benchmark"


def main() -> None:
    image_dir, options = sys.argv[1], sys.argv[2:]
    import boto3
    from moto.server import ThreadedMotoServer
    from tests.support.live_server import free_port
    port = free_port()
    os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="x",
                      AWS_SECRET_ACCESS_KEY="x", AWS_DEFAULT_REGION="us-east-1")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not a line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        client = boto3.client("s3")
        client.create_bucket(Bucket=BUCKET)
        tick = time.perf_counter()
        for folder, _, names in os.walk(image_dir):
            for name in names:
                path = os.path.join(folder, name)
                client.upload_file(path, BUCKET, "photos/" + os.path.relpath(path, image_dir))
        upload = time.perf_counter() - tick
        prefix = f"s3://{BUCKET}/photos"
        with tempfile.TemporaryDirectory() as tmp:
            warm_up(image_dir, tmp, options)
            runs = {
                "folder": timed_build(image_dir, os.path.join(tmp, "a"), options),
                "s3 prefix": timed_build(prefix, os.path.join(tmp, "b"), options),
                "s3 prefix, thumbnails to s3": timed_build(
                    prefix, os.path.join(tmp, "c"), options + [
                        "--thumbnail-dir", f"s3://{BUCKET}/thumbs-c"]),
                "s3 prefix, thumbnails to s3, --ray local": timed_build(
                    prefix, os.path.join(tmp, "d"), options + [
                        "--thumbnail-dir", f"s3://{BUCKET}/thumbs-d", "--ray", "local"]),
            }
            reference = active_lists(runs["folder"]["url"])
            same = all(active_lists(run["url"]) == reference for run in runs.values())
    finally:
        server.stop()
    result = {"cpu": cpu_name(), "cores": os.cpu_count(), "images": runs["folder"]["images"],
              "options": " ".join(options), "upload_seconds": round(upload, 1),
              "seconds": {name: run["seconds"] for name, run in runs.items()},
              **{stage: {name: round(run["timings"][stage], 1) for name, run in runs.items()}
                 for stage in ("scan_seconds", "embed_seconds", "neighbors_seconds")},
              "same_lists": same}
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
