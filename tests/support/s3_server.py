"""A real S3-compatible server (moto's server mode) on a loopback port, for tests."""
import contextlib
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from core.locations import forget_filesystems

from . import live_server


@contextlib.contextmanager
def running_s3():
    """Start the server and point the AWS variables at it; yield a boto3 S3 client.

    The variables stay set until the end, so build subprocesses (and their workers) started
    meanwhile find the server as a deployment would find its endpoint.
    """
    port = live_server.free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    # A filesystem object made for an earlier server (another test module) keeps its endpoint.
    forget_filesystems()
    try:
        with pytest.MonkeyPatch.context() as env:
            env.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
            env.setenv("AWS_ACCESS_KEY_ID", "testing")
            env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
            env.setenv("AWS_DEFAULT_REGION", "us-east-1")
            yield boto3.client("s3")
    finally:
        server.stop()
        forget_filesystems()


def upload_folder(client, folder: Path, bucket: str, prefix: str) -> None:
    """Copy every file under `folder` to `bucket`, keyed `prefix/<its relative path>`."""
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            client.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder).as_posix()}")


def keys(client, bucket: str, prefix: str) -> list[str]:
    """Return the keys under `prefix`, in the store's order."""
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]
