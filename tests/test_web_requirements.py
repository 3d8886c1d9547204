"""The web slug: requirements.txt alone installs a site that serves an index, without torch.

Why this test exists: the development virtualenv has torch (the job needs it), so an import
of torch that crept into the web, or a package the web uses but requirements.txt forgot,
would pass every other test and only break on Heroku. Here a fresh virtualenv gets
requirements.txt and nothing else (pip's cache makes it ~15 s), and runs the Procfile's web
command against a built SQLite index.
"""
import os
import subprocess
import sys

import pytest

from tests.support import live_server
from tests.support.commands import K, ROOT

# The installed size stated in the README is about 270 MB (onnxruntime 74 MB of it, faiss-cpu
# 66 MB); this catches a heavy newcomer such as torch (several GB).
MAX_SITE_PACKAGES_MB = 300


@pytest.fixture(scope="module")
def web_venv(tmp_path_factory):
    """A virtualenv with requirements.txt only (installed by this interpreter's pip)."""
    venv = tmp_path_factory.mktemp("web-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"),
                    "install", "--quiet", "--no-compile", "--disable-pip-version-check",
                    "-r", str(ROOT / "requirements.txt")], check=True, timeout=600)
    return venv


def site_packages_mb(venv) -> float:
    (site,) = (venv / "lib").glob("python3.*/site-packages")
    return sum(f.stat().st_size for f in site.rglob("*") if f.is_file()) / 1e6


def test_web_requirements_hold_no_torch_and_stay_small(web_venv):
    probe = subprocess.run([str(web_venv / "bin" / "python"), "-c", "import torch"],
                           capture_output=True, text=True)
    assert probe.returncode != 0 and "No module named 'torch'" in probe.stderr
    # Builds past the size carry a FAISS index that the web maps (webapp/search/mapped_index.py).
    subprocess.run([str(web_venv / "bin" / "python"), "-c", "import faiss"], check=True)
    assert site_packages_mb(web_venv) < MAX_SITE_PACKAGES_MB


@pytest.mark.parametrize("built", ["sqlite"], indirect=True)
def test_procfile_web_serves_an_index_from_the_web_requirements_alone(web_venv, built):
    port = live_server.free_port()
    base = f"http://127.0.0.1:{port}"
    env = {"PATH": f"{web_venv / 'bin'}{os.pathsep}/usr/bin:/bin", "PORT": str(port),
           "DATABASE_URL": built.url, "THUMBNAIL_DIR": str(built.thumbnails),
           "WEB_CONCURRENCY": "1", "HOME": os.environ.get("HOME", "/tmp")}
    with open(ROOT / "Procfile") as procfile:
        web = next(line[len("web:"):] for line in procfile if line.startswith("web:"))
    server = live_server.start(["bash", "-c", web], env, ROOT, base)
    try:
        live_server.check_contract(base, len(built.collection.groups), K)
    finally:
        live_server.stop(server)
