"""Choosing weights, device, precision and engine before loading anything."""
import subprocess
import sys

import pytest
import torch

from tests.support.commands import ROOT
from indexer.embedders import choice as choice_module
from indexer.embedders.registry import WeightsUnavailable
from indexer.embedders.choice import choose
from indexer.embedders.registry import BACKBONES, TORCHVISION


def test_keys_known_without_torch_name_what_torch_loads(tmp_path):
    # The keys are derived without importing torch or torchvision: they must still name the
    # weights torchvision has, the torchvision that draws random weights, the file's bytes.
    import hashlib

    import torchvision
    from torchvision.models import ResNet18_Weights, resnet18
    weights = tmp_path / "resnet18.pt"
    with torch.random.fork_rng():
        torch.manual_seed(5)
        torch.save(resnet18().state_dict(), weights)
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    pre = BACKBONES["resnet18"].preprocessing.key()
    assert (choose(str(weights), "cpu", "fp32").model_key
            == f"resnet18:file-sha256-{digest}:{pre}:cpu-fp32")
    assert choose(str(weights), "cpu").label == "resnet18.pt"
    version = torchvision.__version__.split("+")[0]
    assert choose("none", "cpu", "fp32").model_key == (
        f"resnet18:random-seed0:torchvision-{version}:{pre}:cpu-fp32")
    imagenet = choose("imagenet", "cpu", "fp32")
    assert imagenet.label == ResNet18_Weights.IMAGENET1K_V1.name
    assert imagenet.model_key == f"resnet18:IMAGENET1K_V1:{pre}:cpu-fp32"


@pytest.mark.parametrize("name", [n for n, b in BACKBONES.items()
                                  if b.weights.source == TORCHVISION])
def test_registry_names_what_torchvision_has(name):
    """Each torchvision entry's weights, checksum and preprocessing are torchvision's own."""
    import torchvision
    backbone = BACKBONES[name]
    enum = torchvision.models.get_model_weights(name)[backbone.weights.name]
    assert f"-{backbone.weights.checksum}.pth" in enum.url
    transforms = enum.transforms()
    pre = backbone.preprocessing
    assert (pre.resize, pre.crop) == (transforms.resize_size[0], transforms.crop_size[0])
    assert (list(pre.mean), list(pre.std)) == (transforms.mean, transforms.std)
    assert pre.interpolation == transforms.interpolation.value


def test_every_model_and_preprocessing_has_its_own_key():
    keys = {choose("none", "cpu", "fp32", model=name).model_key for name in BACKBONES}
    assert len(keys) == len(BACKBONES)
    # resnet18 = vgg16; Lite1 and Lite2 their larger crops; the autoencoder has its own
    assert len({b.preprocessing.key() for b in BACKBONES.values()}) == 7
    with pytest.raises(ValueError, match="unknown model"):
        choose("none", "cpu", model="resnet19")


def test_cpu_fp32_runs_on_mnn_and_everything_else_on_torch(monkeypatch):
    assert choose("none", "cpu", "fp32").engine == "mnn"
    assert choose("none", "cpu", "fp32", "torch").engine == "torch"
    assert choose("none", "cpu", "bf16").engine == "torch"
    monkeypatch.setattr(choice_module, "cpu_has_amx", lambda: True)
    assert choose("none", "cpu").precision == "bf16"
    assert choose("none", "cpu").engine == "torch"
    # bf16 costs the EfficientNets their accuracy (Lite0: cosine 0.986 with fp32): fp32.
    assert choose("imagenet", "cpu", model="efficientnet_lite0").precision == "fp32"
    assert choose("none", "cpu", engine="mnn").precision == "fp32"  # auto means fp32 then
    with pytest.raises(RuntimeError, match="fp32 on the CPU only"):
        choose("none", "cpu", "bf16", "mnn")


def test_engines_share_a_model_key_precisions_do_not():
    assert (choose("none", "cpu", "fp32", "mnn").model_key
            == choose("none", "cpu", "fp32", "torch").model_key)
    assert choose("none", "cpu", "bf16").model_key != choose("none", "cpu", "fp32").model_key


def test_a_missing_weights_file_is_refused_before_anything_loads(tmp_path):
    with pytest.raises(WeightsUnavailable, match="no weights file"):
        choose(str(tmp_path / "missing.pt"), "cpu")


@pytest.mark.parametrize("precision", ["fp32", "auto"])
def test_a_cached_cpu_run_never_imports_torch(collection, tmp_path, precision):
    # Importing torch and torchvision is about 5 s of a run's start; once the model's files
    # (and for auto, the engine measured) are cached, a CPU run has no use for them.
    script = (
        "import sys; sys.path.insert(0, 'scripts'); import build_index\n"
        f"args = [{str(collection.root)!r}, '--weights', 'none', '--no-progress',\n"
        f"        '--device', 'cpu', '--precision', {precision!r},\n"
        f"        '--database-url', 'sqlite:///{tmp_path}/db.sqlite3',\n"
        f"        '--thumbnail-dir', '{tmp_path}/thumbs']\n"
        "assert build_index.main(args) == 0\n"
        "print('torch imported:', 'torch' in sys.modules)\n")
    outputs = [subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                              cwd=ROOT, timeout=600) for _ in range(2)]
    assert all(o.returncode == 0 for o in outputs), outputs[-1].stderr[-2000:]
    assert outputs[1].stdout.strip().splitlines()[-1] == "torch imported: False"
