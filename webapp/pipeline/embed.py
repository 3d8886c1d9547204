"""Embed images with ResNet18 through torchvision's weights API.

Only the offline job imports this module: torch and torchvision are imported at its top, and
nothing the web process loads imports it.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch.fx.experimental.optimization import fuse
from torchvision.models import ResNet18_Weights, resnet18

from .choice import (IMAGENET, NO_WEIGHTS_HELP, RANDOM_SEED, Choice, WeightsUnavailable,
                     choose)


@dataclass
class Embedder:
    model: torch.nn.Module
    weights: str       # what the user sees: IMAGENET1K_V1, none, or the weight file's name
    model_key: str     # what embeddings are stored under; differs for any other model or weights
    resize: int
    crop: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    device: torch.device
    autocast_dtype: torch.dtype | None  # None means plain fp32
    precision: str                      # fp32, bf16 or fp16: what autocast_dtype means
    # The model stays in this process (GPU, or torch's own threads); workers only decode.
    embeds_in_workers: ClassVar[bool] = False

    @property
    def preprocessing(self) -> dict:
        return {"resize": self.resize, "crop": self.crop, "mean": list(self.mean),
                "std": list(self.std), "interpolation": "bilinear"}

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """Return L2-normalised float32 embeddings for uint8 crops (N x crop x crop x 3)."""
        batch = torch.from_numpy(pixels)
        if self.device.type == "cuda":
            batch = batch.pin_memory()  # lets the copy to the GPU run asynchronously
        return embed_batch(self, batch)


def load_embedder(weights: str = "imagenet", device: str = "auto",
                  precision: str = "auto") -> Embedder:
    """Build the torch embedder for these options (the job picks MNN for CPU fp32 itself)."""
    return load_torch_embedder(choose(weights, device, precision, engine="torch"))


def load_torch_embedder(choice: Choice) -> Embedder:
    """Build ResNet18 with its avgpool output (512-d) as the embedding, ready for inference."""
    # The ImageNet weights' own preprocessing is used for every weight choice: random and
    # local weights are ResNet18s trained (or to be compared) on the same input statistics.
    transforms = ResNet18_Weights.IMAGENET1K_V1.transforms()
    model = _model_with_weights(choice.weights)
    model.fc = torch.nn.Identity()
    target = torch.device(choice.device)
    # Folding each BatchNorm into its convolution is exact up to rounding and saves a pass
    # over every activation map (about 15% of the forward time on CPU).
    model = fuse(model.eval()).to(target, memory_format=torch.channels_last)
    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[
        choice.precision]
    return Embedder(model=model, weights=choice.label, model_key=choice.model_key,
                    resize=transforms.resize_size[0], crop=transforms.crop_size[0],
                    mean=tuple(transforms.mean), std=tuple(transforms.std), device=target,
                    autocast_dtype=autocast_dtype, precision=choice.precision)


def _model_with_weights(weights: str) -> torch.nn.Module:
    """Return ResNet18 with 'imagenet', 'none' (seeded random) or a state_dict path's weights."""
    if weights == "imagenet":
        try:
            return resnet18(weights=ResNet18_Weights[IMAGENET])
        except Exception as exc:  # URLError, HTTP errors, a corrupt cache file: all mean "not had"
            raise WeightsUnavailable(
                f"cannot load the ImageNet weights ({exc.__class__.__name__}: {exc}); "
                + NO_WEIGHTS_HELP) from exc
    if weights == "none":
        # Seeded so that two runs (and a re-run) of the same torch version agree.
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            return resnet18(weights=None)
    model = resnet18(weights=None)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        raise WeightsUnavailable(
            f"{weights!r} is not a ResNet18 state_dict ({exc}); " + NO_WEIGHTS_HELP) from exc
    return model


def standardize(pixels: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Turn uint8 NHWC crops into the model's float NCHW input (the ONNX export runs this too)."""
    x = pixels.permute(0, 3, 1, 2).float().div(255)
    return (x - mean) / std


def embed_batch(embedder: Embedder, pixels: torch.Tensor) -> np.ndarray:
    """Return L2-normalised float32 embeddings for a uint8 NHWC batch."""
    device = embedder.device
    # uint8 crosses to the device (4x less than float), then is normalised there.
    mean = torch.tensor(embedder.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(embedder.std, device=device).view(1, 3, 1, 1)
    x = standardize(pixels.to(device, non_blocking=True), mean, std)
    x = x.contiguous(memory_format=torch.channels_last)
    autocast = (torch.autocast(device.type, dtype=embedder.autocast_dtype)
                if embedder.autocast_dtype else contextlib.nullcontext())
    with torch.inference_mode(), autocast:
        features = embedder.model(x)
    features = torch.nn.functional.normalize(features.float(), dim=1)
    return features.cpu().numpy()
