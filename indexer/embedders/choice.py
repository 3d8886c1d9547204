"""Decide what a run embeds with (weights, device, precision, engine) before loading anything.

Nothing here imports torch unless it must ask CUDA: the model_key is known first, and a
machine that has the model's export cached runs the whole CPU job without torch (importing
torch and torchvision is about 5 s of a run's start).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from importlib.metadata import version

from .autoencoder.settings import AUTOENCODER, AutoencoderSettings
from .autoencoder.weights import from_file
from .hardware import cpu_has_amx, pick_device
from .registry import (BACKBONES, DEFAULT_INVARIANCE, DEFAULT_MODEL, INVARIANCES, RANDOM_SEED,
                       Backbone, WeightsUnavailable, no_weights_help)

ENGINES = ("auto", "mnn", "torch", "onnxruntime")
PRECISIONS = ("auto", "fp32", "bf16", "int8")  # what --precision takes (fp16: GPUs' auto)


@dataclass(frozen=True)
class Choice:
    backbone: Backbone
    weights: str    # as asked: imagenet, none or a state_dict path
    label: str      # what the user sees: the weights' name, none or the weight file's name
    base_key: str   # the model and its weights
    device: str     # cpu or cuda
    precision: str  # fp32, bf16, fp16 or int8
    engine: str     # mnn (fp32 on the CPU), onnxruntime (int8 on the CPU) or torch
    invariance: str = DEFAULT_INVARIANCE  # the views each embedding averages: INVARIANCES
    # Whether engine and precision were left to this machine: measure.settle() then times
    # the candidates once and keeps the fastest that holds its accuracy; until then they
    # are the unmeasured default (fp32 on MNN, or bf16 on torch where the CPU has AMX).
    by_measurement: bool = False

    @property
    def model_key(self) -> str:
        """What embeddings are stored under; differs for any other model, weights or numbers."""
        # The preprocessing, precision, device and views change the numbers: never mix their
        # vectors in one index. The engine does not: MNN and torch agree in fp32 to rounding.
        # int8 is a precision: its vectors differ from fp32's beyond rounding (ResNet18: cosine
        # 0.9999 on photographs, where fp32 engines agree to 0.9999999).
        views = "" if self.invariance == "none" else f":{self.invariance}"
        return (f"{self.base_key}:{self.backbone.preprocessing.key()}{views}:"
                f"{self.device}-{self.precision}")


def choose(weights: str = "imagenet", device: str = "auto", precision: str = "auto",
           engine: str = "auto", model: str = DEFAULT_MODEL,
           invariance: str = DEFAULT_INVARIANCE,
           autoencoder: AutoencoderSettings | None = None) -> Choice:
    """Resolve every 'auto' for this machine; raise WeightsUnavailable for a missing file.

    For the autoencoder, `weights` is none or a checkpoint (the job trains or finds one
    first: autoencoder/weights.py) and `autoencoder` its settings.
    """
    if model not in BACKBONES:
        raise ValueError(f"unknown model {model!r}; one of {', '.join(BACKBONES)}")
    if invariance not in INVARIANCES:
        raise ValueError(f"unknown invariance {invariance!r}; one of {', '.join(INVARIANCES)}")
    backbone = BACKBONES[model]
    if model == AUTOENCODER:
        backbone = (autoencoder or settings_of(weights)).backbone()
        label, base_key = describe_autoencoder_weights(backbone, weights)
    else:
        label, base_key = describe_weights(backbone, weights)
    device = pick_device(device)
    # Measured where nothing was forced, on the CPU; the autoencoder is trained here and
    # small (fp32 on MNN is fast), so it is not quantised.
    by_measurement = ((engine, precision, device) == ("auto", "auto", "cpu")
                      and model != AUTOENCODER)
    if precision == "auto":  # the one precision each of these engines runs
        precision = {"mnn": "fp32", "onnxruntime": "int8"}.get(engine, precision)
    precision = pick_precision(device, precision, backbone)
    return Choice(backbone, weights, label, base_key, device, precision,
                  pick_engine(device, precision, engine), invariance, by_measurement)


def describe_weights(backbone: Backbone, weights: str) -> tuple[str, str]:
    """Return (label, base_key) for 'imagenet', 'none' or a state_dict path."""
    name = backbone.name
    if weights == "imagenet":
        return backbone.weights.name, f"{name}:{backbone.weights.name}"
    if weights == "none":
        # Random weights depend on torch's generator and torchvision's initialisation.
        torchvision = version("torchvision").split("+")[0]
        return "none", f"{name}:random-seed{RANDOM_SEED}:torchvision-{torchvision}"
    if not os.path.isfile(weights):
        raise WeightsUnavailable(f"no weights file at {weights!r}; " + no_weights_help(name))
    with open(weights, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()[:16]
    return os.path.basename(weights), f"{name}:file-sha256-{digest}"


def describe_autoencoder_weights(backbone: Backbone, weights: str) -> tuple[str, str]:
    """Return (label, base_key) for an untrained ('none') or trained (a checkpoint) autoencoder.

    A checkpoint's key is its content hash, as for any weights file: the index records
    exactly which autoencoder made it.
    """
    if weights == "none":
        # Torch's default initialisation, seeded; the latent size changes the weights drawn.
        torch_version = version("torch").split("+")[0]
        return "none", (f"{backbone.name}:random-seed{RANDOM_SEED}:latent{backbone.dim}:"
                        f"torch-{torch_version}")
    if weights in ("imagenet", "train"):
        raise WeightsUnavailable("an autoencoder has no ImageNet weights: build_index.py "
                                 "trains one on the folder; elsewhere use --weights PATH (a "
                                 "checkpoint it trained) or --weights none (untrained)")
    return describe_weights(backbone, weights)


def settings_of(weights: str) -> AutoencoderSettings:
    """Return the settings an autoencoder checkpoint was trained with (defaults for none)."""
    if weights in ("none", "imagenet", "train") or not os.path.isfile(weights):
        return AutoencoderSettings()
    from .autoencoder.weights import from_file
    return from_file(weights).settings


def pick_precision(device: str, precision: str, backbone: Backbone) -> str:
    """Return what 'auto' means here: bf16 where it is fast and the backbone keeps its
    accuracy in it (GPUs, AMX CPUs), else fp32."""
    if precision != "auto":
        return precision
    if not backbone.bf16:
        return "fp32"
    if device == "cuda":
        import torch
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    # Only AMX makes bf16 pay end to end on a CPU. On a 2-core Zen 4 (AVX512-BF16, no AMX),
    # torch bf16 runs ResNet18 twice as fast as torch fp32, but the whole job on 1000 JPEGs
    # took 18.7 s against 14.2 s with fp32 on MNN inside the decode workers.
    return "bf16" if cpu_has_amx() else "fp32"


def pick_engine(device: str, precision: str, engine: str) -> str:
    """Return 'mnn' for fp32 on the CPU unless torch was asked for, 'onnxruntime' for int8;
    'torch' otherwise (measure.settle() may choose another for an unforced CPU run)."""
    # MNN's Winograd convolutions run ResNet18 about 2x faster than torch (oneDNN) in fp32 on
    # a CPU without bf16 (2-core AVX2: 78 against 37 images/s); bf16 (AMX) and GPUs use torch.
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; one of {', '.join(ENGINES)}")
    cpu_fp32 = (device, precision) == ("cpu", "fp32")
    if engine == "mnn" and not cpu_fp32:
        raise RuntimeError(f"--engine mnn runs fp32 on the CPU only, not {precision} on {device}")
    cpu_int8 = (device, precision) == ("cpu", "int8")
    if ((engine == "onnxruntime" or precision == "int8")
            and not (cpu_int8 and engine in ("auto", "onnxruntime"))):
        raise RuntimeError(f"int8 runs on the CPU with --engine onnxruntime only, not "
                           f"{precision} on {device} with {engine}")
    if engine == "auto":
        return "mnn" if cpu_fp32 else "onnxruntime" if cpu_int8 else "torch"
    return engine
