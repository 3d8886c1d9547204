"""Static files for production: content-hashed names and gzip copies, served by WhiteNoise.

At start-up each file of static/ is copied once to instance/static/ under a name that carries
its content hash (style.css -> style.3f1c0a9b2d4e.css), with a gzip copy beside it, and
url_for('static', filename='style.css') returns the hashed name. WhiteNoise serves hashed
names with a far-future, immutable Cache-Control (a change makes a new name) and picks the
gzip copy for clients that accept it. The plain names keep working with a short max-age.
"""
from __future__ import annotations

import hashlib
import os
import re

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from core.atomic import write_atomically

HASH_LENGTH = 12
HASHED_NAME = re.compile(r"\.[0-9a-f]{%d}\.[^./]+$" % HASH_LENGTH)
PLAIN_MAX_AGE = 60


def hashed_name(relative: str, data: bytes) -> str:
    """Return `relative` with the hash of `data` before its extension."""
    stem, ext = os.path.splitext(relative)
    return f"{stem}.{hashlib.sha256(data).hexdigest()[:HASH_LENGTH]}{ext}"


def collect(source: str, dest: str) -> dict[str, str]:
    """Copy every file under `source` to its hashed name under `dest`; return the manifest."""
    compressor = Compressor(use_brotli=False, quiet=True)
    manifest = {}
    for dirpath, _dirs, files in os.walk(source):
        for name in files:
            path = os.path.join(dirpath, name)
            relative = os.path.relpath(path, source).replace(os.sep, "/")
            with open(path, "rb") as f:
                data = f.read()
            target = os.path.join(dest, hashed_name(relative, data))
            if not os.path.exists(target):
                # The gzip copy first: a worker that sees the file also sees its copy.
                if compressor.should_compress(name):
                    packed = compressor.compress_gzip(data)
                    if len(packed) < 0.95 * len(data):
                        write_atomically(target + ".gz", packed)
                write_atomically(target, data)
            manifest[relative] = os.path.relpath(target, dest).replace(os.sep, "/")
    return manifest


def is_hashed(_path: str, url: str) -> bool:
    return bool(HASHED_NAME.search(url))


def init_app(app) -> None:
    """Serve static/ through WhiteNoise and make url_for('static') give the hashed names."""
    dest = os.path.join(app.instance_path, "static")
    manifest = collect(app.static_folder, dest)
    whitenoise = WhiteNoise(app.wsgi_app, max_age=PLAIN_MAX_AGE, immutable_file_test=is_hashed)
    whitenoise.add_files(app.static_folder, prefix=app.static_url_path)
    whitenoise.add_files(dest, prefix=app.static_url_path)
    app.wsgi_app = whitenoise

    @app.url_defaults
    def hashed_static_names(endpoint, values):
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]
