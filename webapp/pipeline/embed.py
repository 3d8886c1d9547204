"""Embed images with ResNet18 through torchvision's weights API.

Only the offline job imports this module: torch and torchvision are imported at its top, and
nothing the web process loads imports it.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch
import torchvision
from torch.fx.experimental.optimization import fuse
from torch.utils.data import DataLoader, Dataset
from torchvision.models import ResNet18_Weights, resnet18

from ..imaging import THUMBNAIL_SIZE, center_crop, open_rgb, save_thumbnail
from .hardware import cpu_has_bf16

MODEL_NAME = "resnet18"
RANDOM_SEED = 0
NO_WEIGHTS_HELP = ("use --weights PATH (a local ResNet18 state_dict file) or --weights none "
                   "(seeded random weights, for tests and offline trials only)")


class WeightsUnavailable(Exception):
    """The requested weights cannot be had; the job stops rather than use random ones."""


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

    @property
    def preprocessing(self) -> dict:
        return {"resize": self.resize, "crop": self.crop, "mean": list(self.mean),
                "std": list(self.std), "interpolation": "bilinear"}


def load_embedder(weights: str = "imagenet", device: str = "auto",
                  precision: str = "auto") -> Embedder:
    """Build ResNet18 with its avgpool output (512-d) as the embedding, ready for inference."""
    # The ImageNet weights' own preprocessing is used for every weight choice: random and
    # local weights are ResNet18s trained (or to be compared) on the same input statistics.
    transforms = ResNet18_Weights.IMAGENET1K_V1.transforms()
    model, label, key = _model_with_weights(weights)
    model.fc = torch.nn.Identity()
    target = _pick_device(device)
    # Folding each BatchNorm into its convolution is exact up to rounding and saves a pass
    # over every activation map (about 15% of the forward time on CPU).
    model = fuse(model.eval()).to(target, memory_format=torch.channels_last)
    autocast_dtype = _pick_autocast(target, precision)
    # Precision and device change the numbers too: never mix their vectors in one index.
    name = {None: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[autocast_dtype]
    return Embedder(model=model, weights=label, model_key=f"{key}:{target.type}-{name}",
                    resize=transforms.resize_size[0], crop=transforms.crop_size[0],
                    mean=tuple(transforms.mean), std=tuple(transforms.std), device=target,
                    autocast_dtype=autocast_dtype, precision=name)


def _model_with_weights(weights: str) -> tuple[torch.nn.Module, str, str]:
    """Return (model, label, model_key) for 'imagenet', 'none' or a state_dict path."""
    version = f"torchvision-{torchvision.__version__.split('+')[0]}"
    if weights == "imagenet":
        chosen = ResNet18_Weights.IMAGENET1K_V1
        try:
            model = resnet18(weights=chosen)
        except Exception as exc:  # URLError, HTTP errors, a corrupt cache file: all mean "not had"
            raise WeightsUnavailable(
                f"cannot load the ImageNet weights ({exc.__class__.__name__}: {exc}); "
                + NO_WEIGHTS_HELP) from exc
        return model, chosen.name, f"{MODEL_NAME}:{chosen.name}"
    if weights == "none":
        # Seeded so that two runs (and a re-run) of the same torch version agree.
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            model = resnet18(weights=None)
        return model, "none", f"{MODEL_NAME}:random-seed{RANDOM_SEED}:{version}"
    if not os.path.isfile(weights):
        raise WeightsUnavailable(f"no weights file at {weights!r}; " + NO_WEIGHTS_HELP)
    with open(weights, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    model = resnet18(weights=None)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except Exception as exc:
        raise WeightsUnavailable(
            f"{weights!r} is not a ResNet18 state_dict ({exc}); " + NO_WEIGHTS_HELP) from exc
    return model, os.path.basename(weights), f"{MODEL_NAME}:file-sha256-{digest}"


def _pick_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda asked for, but CUDA is not available here")
    return torch.device(device)


def _pick_autocast(device: torch.device, precision: str) -> torch.dtype | None:
    if precision == "fp32":
        return None
    if precision == "bf16":
        return torch.bfloat16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if cpu_has_bf16() else None


@dataclass
class Decoded:
    index: int
    pixels: np.ndarray | None  # uint8 crop x crop x 3, None when the file could not be decoded
    width: int = 0
    height: int = 0
    error: str = ""


class DecodeDataset(Dataset):
    """Decode, thumbnail and crop one file per item, in DataLoader worker processes."""

    def __init__(self, items: list[tuple[str, str]], resize: int, crop: int,
                 thumbnail_dir: str | None):
        self.items = items  # (full path, content hash)
        self.resize, self.crop, self.thumbnail_dir = resize, crop, thumbnail_dir

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> Decoded:
        full_path, content_hash = self.items[index]
        try:
            decoded = open_rgb(full_path, max(self.resize, THUMBNAIL_SIZE))
            pixels = center_crop(decoded.rgb, self.resize, self.crop)
        except Exception as exc:  # any decoder error on any file is a skip, never fatal
            return Decoded(index, None, error=f"{exc.__class__.__name__}: {exc}")
        if self.thumbnail_dir:
            # From the same decode: the file is never decoded a second time.
            save_thumbnail(decoded.rgb, self.thumbnail_dir, content_hash)
        return Decoded(index, pixels, decoded.width, decoded.height)


def collate(samples: list[Decoded]) -> tuple[torch.Tensor, list[Decoded]]:
    """Stack the decoded crops (uint8, NHWC) and keep every sample's outcome."""
    good = [s.pixels for s in samples if s.pixels is not None]
    pixels = torch.from_numpy(np.stack(good)) if good else torch.empty(0)
    for s in samples:
        s.pixels = None
    return pixels, samples


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


def embed_files(embedder: Embedder, items: list[tuple[str, str]], *, batch_size: int,
                workers: int, thumbnail_dir: str | None
                ) -> Iterator[tuple[list[Decoded], np.ndarray]]:
    """Yield (outcomes of a batch, embeddings of its decoded samples in order)."""
    dataset = DecodeDataset(items, embedder.resize, embedder.crop, thumbnail_dir)
    loader = DataLoader(dataset, batch_size=batch_size, num_workers=workers,
                        collate_fn=collate, pin_memory=embedder.device.type == "cuda",
                        worker_init_fn=_one_thread if workers else None,
                        prefetch_factor=4 if workers else None)
    for pixels, outcomes in loader:
        vectors = embed_batch(embedder, pixels) if len(pixels) else np.empty((0, 512), "float32")
        yield outcomes, vectors


def _one_thread(_worker_id: int) -> None:
    # Decode workers each take a core; letting them spawn torch threads too oversubscribes.
    torch.set_num_threads(1)
