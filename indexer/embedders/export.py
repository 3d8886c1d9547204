"""Export the job's torch embedder, once per model_key and machine (see model_files.py).

The web process searches by upload without torch: it runs the ONNX export with onnxruntime.
That graph takes the uint8 crop that core.imaging cuts and does the rest itself
(normalisation, the backbone, L2 norm), so the web cannot drift from embed_batch's arithmetic.
The job's CPU engine runs the same graph, converted to MNN, for any batch size.
"""
from __future__ import annotations

import copy
import logging
import time

import torch

from .calibration import calibrate
from .choice import Choice
from .torch_engine import TorchEmbedder
from .networks import standardize
from .model_files import OPSET, ModelFiles

log = logging.getLogger(__name__)


class PortableEmbedder(torch.nn.Module):
    """uint8 NHWC crops in, float32 embeddings out: what embed_batch computes."""

    def __init__(self, embedder: TorchEmbedder, normalized: bool = True):
        super().__init__()
        # fp32 on the CPU, whatever the job ran: the web's runtime computes in fp32.
        self.model = copy.deepcopy(embedder.model).float().cpu().to(
            memory_format=torch.contiguous_format).eval()
        preprocessing = embedder.preprocessing
        self.register_buffer("mean", torch.tensor(preprocessing.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(preprocessing.std).view(1, 3, 1, 1))
        self.normalized = normalized

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.model(standardize(pixels, self.mean, self.std))
        return torch.nn.functional.normalize(features, dim=1) if self.normalized else features


def export_onnx(embedder: TorchEmbedder, *, any_batch: bool = False,
                normalized: bool = True) -> tuple[bytes, int]:
    """Return (the ONNX model's bytes, embedding dimension): batch 1 unless any_batch."""
    module = PortableEmbedder(embedder, normalized).eval()
    crop = embedder.preprocessing.crop
    example = torch.zeros(2 if any_batch else 1, crop, crop, 3,
                          dtype=torch.uint8)
    with torch.inference_mode():
        dim = module(example).shape[1]
    # The torch.export-based exporter (the default since torch 2.9; the TorchScript one is
    # deprecated). It needs onnx and onnxscript, and nothing from the network.
    dynamic = {"pixels": {0: torch.export.Dim("batch")}} if any_batch else None
    program = torch.onnx.export(module, (example,), dynamo=True, opset_version=OPSET,
                                input_names=["pixels"], output_names=["embedding"],
                                dynamic_shapes=dynamic, verbose=False)
    return program.model_proto.SerializeToString(), dim


def make_model_files(embedder: TorchEmbedder, with_mnn: bool) -> tuple[ModelFiles, dict]:
    """Export, convert (to MNN where asked) and calibrate the embedder; return (files, timings).

    The calibration uses torch's embeddings, also for MNN runs: the two agree to rounding.
    """
    tick = time.perf_counter()
    # Raw features: the web normalises them itself and keeps their length, which the
    # euclidean and dot-product metrics need.
    onnx, dim = export_onnx(embedder, normalized=False)
    mnn = None
    if with_mnn:
        from .mnn_engine import convert_to_mnn
        # Unnormalised: MNN 3.6 computes ReduceL2 over the whole batch when the batch size
        # is dynamic, so the job divides by each row's norm itself.
        mnn = convert_to_mnn(export_onnx(embedder, any_batch=True, normalized=False)[0])
    return calibrated_files(embedder, embedder.model_key, onnx, mnn, dim, tick, "exported")


def int8_graph(embedder: TorchEmbedder) -> tuple[bytes, int]:
    """Return (the embedder's graph quantised to int8: raw features, any batch; dimension)."""
    from .quantize import calibration_inputs, quantize_int8
    onnx, dim = export_onnx(embedder, any_batch=True, normalized=False)
    return quantize_int8(onnx, calibration_inputs(embedder.preprocessing)), dim


def make_int8_files(embedder: TorchEmbedder, choice: Choice,
                    made: tuple[bytes, int] | None = None) -> tuple[ModelFiles, dict]:
    """Quantise the fp32 embedder (unless `made` is int8_graph's result) and calibrate the
    int8 graph; return (files, timings). The web runs the same int8 graph as the job."""
    from .onnx_engine import load_onnx_embedder
    tick = time.perf_counter()
    graph, dim = made or int8_graph(embedder)
    job = load_onnx_embedder(graph, choice.label, choice.model_key, embedder.preprocessing,
                             choice.invariance)
    return calibrated_files(job, choice.model_key, graph, None, dim, tick, "quantised")


def calibrated_files(calibrated_on, model_key: str, graph: bytes, mnn: bytes | None, dim: int,
                     started: float, made: str) -> tuple[ModelFiles, dict]:
    """Calibrate the near-duplicate threshold on `calibrated_on`; return the model's files
    and the timings of making them (since `started`) and of calibrating."""
    made_at = time.perf_counter()
    calibration = calibrate(calibrated_on)
    log.info("%s %s and calibrated its near-duplicate threshold: %.4f", made, model_key,
             calibration["threshold"])
    files = ModelFiles(graph, mnn, dim, calibration, calibrated_on.preprocessing.as_dict())
    return files, {"export_seconds": made_at - started,
                   "calibrate_seconds": time.perf_counter() - made_at}
