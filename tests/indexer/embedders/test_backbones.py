"""Every backbone indexes and searches; EfficientNet-Lite0's weights are real ImageNet ones.

The photographs are the ones scikit-image and scikit-learn ship (scripts/demo_photos.py):
real pictures, offline.
"""
import io
import os
import subprocess
import sys

import pytest
import torch
from PIL import Image

from tests.support.commands import ROOT, run_build
from scripts.demo_photos import make_demo_collection, make_families
from webapp import create_app
from indexer.embedders.registry import BACKBONES, OFFLINE_MODEL

# What the demo and `make demo` rely on without a network: real weights from a package.
LITE0 = BACKBONES[OFFLINE_MODEL]
# Any request torchvision makes for weights goes to a closed port: "no network", on any host.
OFFLINE = {"https_proxy": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9"}


@pytest.fixture(scope="module")
def families(tmp_path_factory):
    folder = tmp_path_factory.mktemp("families")
    return folder, make_families(str(folder))


def client_of(url):
    return create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()


def all_images(client) -> list[dict]:
    return client.get("/api/images?per_page=500").get_json()["images"]


@pytest.mark.parametrize("photo,labels", [
    ("chelsea", {"tabby", "tiger cat", "Egyptian cat"}),
    ("coffee", {"espresso", "cup", "coffee mug"}),
    ("rocket", {"missile", "projectile", "space shuttle"}),
])
def test_lite0_puts_photographs_in_their_imagenet_classes(families, photo, labels):
    from torchvision.models._meta import _IMAGENET_CATEGORIES

    from indexer.embedders.networks import classifier
    from indexer.embedders.networks import standardize
    folder, _ = families
    pre = LITE0.preprocessing
    pixels = torch.from_numpy(pre.model_input(folder / photo / "original.jpg").pixels[None].copy())
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (pre.mean, pre.std))
    with torch.inference_mode():
        logits = classifier(LITE0, "imagenet").eval()(standardize(pixels, mean, std))
    top5 = [_IMAGENET_CATEGORIES[i] for i in logits[0].topk(5).indices]
    assert labels & set(top5), top5


def test_lite0_ranks_photo_families_through_the_api(families, tmp_path):
    """Same-family precision@10 (nine other members: 0.9 at most) read through the API."""
    folder, members = families
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run_build(folder, url, tmp_path / "t", "--model", OFFLINE_MODEL, weights="imagenet")
    assert result.returncode == 0, result.stderr
    client = client_of(url)
    facts = client.get("/api/index").get_json()
    assert (facts["model"], facts["dim"], facts["weights"]) == (
        OFFLINE_MODEL, 1280, LITE0.weights.name)
    assert facts["images"] == len(members) and facts["metric"] == "cosine"
    hits = []
    for image in all_images(client):
        similar = client.get(f"/api/images/{image['id']}").get_json()["similar"]
        hits.append(sum(members[s["path"]] == members[image["path"]] for s in similar[:10]))
    assert sum(hits) / (10 * len(hits)) >= 0.80


def test_demo_offline_indexes_real_photographs_with_real_weights(tmp_path):
    """ResNet18's weights cannot be downloaded: the demo uses Lite0's, never random ones."""
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"), **OFFLINE)
    script = ("import sys; from scripts.demo import build_demo_index; "
              "sys.exit(build_demo_index(*sys.argv[1:]))")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "demo"), url,
                           "--thumbnail-dir", str(tmp_path / "t"), "--no-progress"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"indexes with {OFFLINE_MODEL} instead" in done.stderr
    client = client_of(url)
    facts = client.get("/api/index").get_json()
    assert facts["model"] == OFFLINE_MODEL and facts["weights"] != "none"
    assert "random weights" not in client.get("/").get_data(as_text=True)
    by_path = {image["path"]: image["id"] for image in all_images(client)}
    similar = client.get(f"/api/images/{by_path['photos/chelsea.jpg']}").get_json()["similar"]
    copies = {f"photos/chelsea-{edit}.jpg" for edit in ("crop", "mirror", "warm", "small")}
    assert {s["path"] for s in similar[:4]} == copies  # the cat's own copies first


def test_torchvision_weights_offline_stop_and_name_the_offline_model(tmp_path):
    source = tmp_path / "source"
    make_demo_collection(str(source))
    cmd = [sys.executable, str(ROOT / "scripts" / "build_index.py"), str(source / "photos"),
           "--model", "resnet50", "--database-url", f"sqlite:///{tmp_path / 'db.sqlite3'}"]
    env = dict(os.environ, TORCH_HOME=str(tmp_path / "torch"), **OFFLINE)
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 3
    last = done.stderr.strip().splitlines()[-1]
    assert "--model efficientnet_lite0" in last and "--weights none" in last


@pytest.mark.parametrize("model", list(BACKBONES))
def test_each_backbone_indexes_and_finds_an_uploaded_copy_first(families, tmp_path, model):
    """fp32 on the CPU: the MNN engine, whose graph every backbone converts to."""
    folder, _ = families
    source = tmp_path / "source"
    source.mkdir()
    for photo in ("chelsea", "coffee", "rocket", "moon"):
        (source / f"{photo}.jpg").write_bytes((folder / photo / "original.jpg").read_bytes())
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    weights = "imagenet" if model == OFFLINE_MODEL else "none"
    result = run_build(source, url, tmp_path / "t", "--model", model, "--precision", "fp32",
                       weights=weights)
    assert result.returncode == 0, result.stderr
    client = client_of(url)
    facts = client.get("/api/index").get_json()
    assert (facts["model"], facts["dim"]) == (model, BACKBONES[model].dim)
    with Image.open(source / "coffee.jpg") as img:
        copy = io.BytesIO()
        img.resize((img.width * 3 // 4, img.height * 3 // 4)).save(copy, "JPEG", quality=70)
    found = client.post("/api/search", data={"image": (io.BytesIO(copy.getvalue()), "q.jpg")})
    assert found.status_code == 200, found.get_json()
    assert found.get_json()["results"][0]["path"] == "coffee.jpg"
