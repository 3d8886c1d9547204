"""Embed on the CPU in int8 with ONNX Runtime, from the model's quantised export. No torch.

ONNX Runtime runs a statically quantised graph (quantize.py) with integer convolutions:
on a CPU with VNNI (AVX512-VNNI, AVX-VNNI) a multiply-add of four int8 pairs is one
instruction, and ResNet18 ran 1.7-1.9x as fast as MNN's fp32 Winograd convolutions on a
2-core AMD EPYC (AVX512-VNNI). Whether it pays on a machine is measured (measure.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from core.imaging import Preprocessing
from core.metrics import unit_rows

from .hardware import usable_cpus


@dataclass
class OnnxEmbedder:
    graph: bytes        # an ONNX graph: uint8 NHWC crops in ("pixels"), raw features out
    weights: str        # what the user sees: the weights' name, none, or the weight file's name
    model_key: str
    preprocessing: Preprocessing
    threads: int
    precision: str = "int8"
    invariance: str = "none"  # the views the graph averages (the calibration's edits)
    embeds_in_workers: ClassVar[bool] = True  # see reader.embed_files
    _session: object = field(default=None, repr=False)  # made on first use, in its process

    def for_workers(self, workers: int) -> OnnxEmbedder:
        """Return the copy each of `workers` processes loads: the CPUs shared among them."""
        return replace(self, threads=max(1, self.threads // workers), _session=None)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Return the model's float32 features for uint8 crops (N x crop x crop x 3)."""
        if self._session is None:
            self._session = session_of(self.graph, self.threads)
        return self._session.run(None, {"pixels": np.ascontiguousarray(pixels)})[0]

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """Return L2-normalised float32 embeddings for uint8 crops (N x crop x crop x 3)."""
        return unit_rows(self.features(pixels))[0]


def session_of(graph: bytes, threads: int):
    """Return an ONNX Runtime CPU session for a graph, on `threads` threads."""
    import onnxruntime  # here: a worker imports it only when it runs this engine
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return onnxruntime.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def load_onnx_embedder(graph: bytes, weights: str, model_key: str,
                       preprocessing: Preprocessing, invariance: str = "none") -> OnnxEmbedder:
    """Return an embedder for a graph, on all usable CPUs."""
    return OnnxEmbedder(graph, weights, model_key, preprocessing, usable_cpus(),
                        invariance=invariance)
