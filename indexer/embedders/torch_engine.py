"""Embed images with torch: any registry backbone, on the CPU (fp32, bf16) or a GPU.

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

from core.imaging import Preprocessing

from .choice import Choice, choose
from .networks import embedding_network, standardize, with_invariance
from .registry import DEFAULT_INVARIANCE, DEFAULT_MODEL


@dataclass
class TorchEmbedder:
    model: torch.nn.Module
    weights: str       # what the user sees: the weights' name, none, or the weight file's name
    model_key: str     # what embeddings are stored under; differs for any other model or weights
    preprocessing: Preprocessing
    device: torch.device
    autocast_dtype: torch.dtype | None  # None means plain fp32
    precision: str                      # fp32, bf16 or fp16: what autocast_dtype means
    invariance: str = DEFAULT_INVARIANCE  # the views each embedding averages (calibration)
    # The model stays in this process (GPU, or torch's own threads); workers only decode.
    embeds_in_workers: ClassVar[bool] = False

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """Return L2-normalised float32 embeddings for uint8 crops (N x crop x crop x 3)."""
        return embed_batch(self, self._batch(pixels))

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Return the model's float32 features for uint8 crops (N x crop x crop x 3)."""
        return embed_batch(self, self._batch(pixels), normalized=False)

    def _batch(self, pixels: np.ndarray) -> torch.Tensor:
        batch = torch.from_numpy(pixels)
        if self.device.type == "cuda":
            batch = batch.pin_memory()  # lets the copy to the GPU run asynchronously
        return batch


def load_embedder(weights: str = "imagenet", device: str = "auto", precision: str = "auto",
                  model: str = DEFAULT_MODEL,
                  invariance: str = DEFAULT_INVARIANCE) -> TorchEmbedder:
    """Build the torch embedder for these options (the job picks MNN for CPU fp32 itself)."""
    return load_torch_embedder(choose(weights, device, precision, engine="torch", model=model,
                                      invariance=invariance))


def load_torch_embedder(choice: Choice) -> TorchEmbedder:
    """Build the chosen backbone, cut at its embedding layer, ready for inference."""
    model = embedding_network(choice.backbone, choice.weights)
    target = torch.device(choice.device)
    # Folding each BatchNorm into its convolution is exact up to rounding and saves a pass
    # over every activation map (15% of ResNet18's forward time on CPU, 60% of Lite0's).
    model = with_invariance(fuse(model), choice.invariance)
    model = model.to(target, memory_format=torch.channels_last)
    autocast_dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[
        choice.precision]
    return TorchEmbedder(model=model, weights=choice.label, model_key=choice.model_key,
                         preprocessing=choice.backbone.preprocessing, device=target,
                         autocast_dtype=autocast_dtype, precision=choice.precision,
                         invariance=choice.invariance)


def embed_batch(embedder: TorchEmbedder, pixels: torch.Tensor,
                normalized: bool = True) -> np.ndarray:
    """Return L2-normalised (or raw) float32 embeddings for a uint8 NHWC batch."""
    device = embedder.device
    # uint8 crosses to the device (4x less than float), then is normalised there.
    mean = torch.tensor(embedder.preprocessing.mean, device=device).view(1, 3, 1, 1)
    std = torch.tensor(embedder.preprocessing.std, device=device).view(1, 3, 1, 1)
    x = standardize(pixels.to(device, non_blocking=True), mean, std)
    x = x.contiguous(memory_format=torch.channels_last)
    autocast = (torch.autocast(device.type, dtype=embedder.autocast_dtype)
                if embedder.autocast_dtype else contextlib.nullcontext())
    with torch.inference_mode(), autocast:
        features = embedder.model(x)
    features = features.float()
    if normalized:
        features = torch.nn.functional.normalize(features, dim=1)
    return features.cpu().numpy()
