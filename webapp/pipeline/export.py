"""Export the job's exact embedder to ONNX and store it, once per model_key, for the web.

The web process searches by upload without torch: it runs this export with onnxruntime.
The graph takes the uint8 crop that webapp.imaging cuts and does the rest itself
(normalisation, ResNet18, L2 norm), so the web cannot drift from embed_batch's arithmetic.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import os
import time

import torch
from sqlalchemy import select

from ..db import db
from ..models import StoredEmbedder
from .calibration import calibrate
from .embed import Embedder, standardize

log = logging.getLogger(__name__)
OPSET = 18
IR_VERSION = 10  # what onnxruntime 1.32 reads; the scorer graph is stamped with it


class PortableEmbedder(torch.nn.Module):
    """uint8 NHWC crops in, L2-normalised float32 embeddings out: what embed_batch computes."""

    def __init__(self, embedder: Embedder):
        super().__init__()
        # fp32 on the CPU, whatever the job ran: the web's runtime computes in fp32.
        self.model = copy.deepcopy(embedder.model).float().cpu().to(
            memory_format=torch.contiguous_format).eval()
        self.register_buffer("mean", torch.tensor(embedder.mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(embedder.std).view(1, 3, 1, 1))

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        features = self.model(standardize(pixels, self.mean, self.std))
        return torch.nn.functional.normalize(features, dim=1)


def export_onnx(embedder: Embedder) -> tuple[bytes, int]:
    """Return (the ONNX model's bytes, embedding dimension), for a batch of one crop."""
    module = PortableEmbedder(embedder).eval()
    example = torch.zeros(1, embedder.crop, embedder.crop, 3, dtype=torch.uint8)
    with torch.inference_mode():
        dim = module(example).shape[1]
    # The torch.export-based exporter (the default since torch 2.9; the TorchScript one is
    # deprecated). It needs onnx and onnxscript, and nothing from the network.
    program = torch.onnx.export(module, (example,), dynamo=True, opset_version=OPSET,
                                input_names=["pixels"], output_names=["embedding"],
                                verbose=False)
    return program.model_proto.SerializeToString(), dim


def scorer_onnx(dim: int) -> bytes:
    """Return a graph that scores float16 rows against a float32 query, accumulating in fp32.

    NumPy has no fast float16 product (it is ~15x slower than float32); onnxruntime's Cast
    and MatMul are vectorised, so the web keeps its matrix compact and still searches fast.
    """
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Cast", ["rows"], ["rows32"], to=TensorProto.FLOAT),
         helper.make_node("MatMul", ["rows32", "query"], ["scores"])],
        "scorer",
        # A column query, not a vector: onnxruntime's 1-D MatMul is ~6x slower than its GEMM.
        [helper.make_tensor_value_info("rows", TensorProto.FLOAT16, ["n", dim]),
         helper.make_tensor_value_info("query", TensorProto.FLOAT, [dim, 1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["n", 1])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    return model.SerializeToString()


# Part of the cache key: bump it when the export or the calibration changes, since the
# model_key does not cover this code.
EXPORT_VERSION = 1


def cache_paths(model_key: str) -> tuple[str, str]:
    """Return the (onnx, json) files that cache a model_key's export on this machine."""
    folder = os.environ.get("SIMILAR_IMAGES_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "similar-images")
    key = f"v{EXPORT_VERSION}:{model_key}".encode()
    stem = os.path.join(folder, hashlib.sha256(key).hexdigest()[:32])
    return stem + ".onnx", stem + ".json"


def load_cached(model_key: str):
    """Return (onnx, dim, calibration) exported earlier on this machine, or None."""
    onnx_path, json_path = cache_paths(model_key)
    try:
        with open(json_path) as f:
            meta = json.load(f)
        with open(onnx_path, "rb") as f:
            onnx = f.read()
    except (OSError, ValueError):
        return None
    if meta.get("model_key") != model_key:
        return None
    return onnx, meta["dim"], meta["calibration"]


def save_cached(model_key: str, onnx: bytes, dim: int, calibration: dict) -> None:
    """Keep the export for the next database on this machine (it takes seconds to make).

    The model_key pins the weights, torchvision version, device and precision, so a cached
    export is the same bytes a new export would give. Failing to cache costs only time.
    """
    onnx_path, json_path = cache_paths(model_key)
    meta = json.dumps({"model_key": model_key, "dim": dim, "calibration": calibration})
    try:
        os.makedirs(os.path.dirname(onnx_path), exist_ok=True)
        for path, data in ((onnx_path, onnx), (json_path, meta.encode())):
            with open(path + ".tmp", "wb") as f:  # the json last: it marks a whole entry
                f.write(data)
            os.replace(path + ".tmp", path)
    except OSError as exc:
        log.warning("could not cache the ONNX export in %s: %s", onnx_path, exc)


def ensure_exported(embedder: Embedder) -> dict:
    """Export, calibrate and store the embedder unless its model_key has it; return timings."""
    if db.session.scalar(select(StoredEmbedder.model_key)
                         .where(StoredEmbedder.model_key == embedder.model_key)):
        return {}
    tick = time.perf_counter()
    cached = load_cached(embedder.model_key)
    if cached:
        onnx, dim, calibration = cached
        exported = time.perf_counter()
    else:
        onnx, dim = export_onnx(embedder)
        exported = time.perf_counter()
        calibration = calibrate(embedder)
        save_cached(embedder.model_key, onnx, dim, calibration)
    log.info("exported %s to ONNX (%.1f MB) and calibrated its near-duplicate threshold: %.4f",
             embedder.model_key, len(onnx) / 1e6, calibration["threshold"])
    db.session.add(StoredEmbedder(
        model_key=embedder.model_key, onnx=onnx, scorer_onnx=scorer_onnx(dim),
        preprocessing={**embedder.preprocessing, "input": "pixels", "output": "embedding",
                       "layout": "NHWC uint8, batch 1", "weights": embedder.weights},
        dim=dim, near_duplicate_threshold=calibration["threshold"], calibration=calibration))
    db.session.commit()
    return {"export_seconds": exported - tick,
            "calibrate_seconds": time.perf_counter() - exported}
