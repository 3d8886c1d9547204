"""Embed on the CPU in fp32 with MNN, from the model's ONNX export. No torch.

MNN's Winograd convolutions do ResNet18 in fewer multiplications than torch's direct ones:
on a 2-core AVX2 CPU, 78 images/s against 37, with embeddings within cosine 0.99999.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from typing import ClassVar

import numpy as np

from core.imaging import Preprocessing
from core.metrics import unit_rows

from .hardware import usable_cpus

# MNN's converter is its C extension `_tools`, called directly: the package's `mnnconvert`
# wrapper also sends usage logs to the vendor (and pip-installs a logging SDK to do so).
CONVERT = "import sys, _tools; _tools.mnnconvert(sys.argv)"


def convert_to_mnn(onnx: bytes) -> bytes:
    """Convert an ONNX graph to MNN's format, in a child process (the converter prints)."""
    with tempfile.TemporaryDirectory() as folder:
        source, dest = os.path.join(folder, "model.onnx"), os.path.join(folder, "model.mnn")
        with open(source, "wb") as f:
            f.write(onnx)
        done = subprocess.run(
            [sys.executable, "-c", CONVERT, "-f", "ONNX", "--modelFile", source,
             "--MNNModel", dest, "--bizCode", "similar-images"],
            capture_output=True, text=True)
        if done.returncode != 0 or not os.path.exists(dest):
            raise RuntimeError(f"MNN could not convert the ONNX export: "
                               f"{(done.stdout + done.stderr).strip()[-500:]}")
        with open(dest, "rb") as f:
            return f.read()


@dataclass
class MnnEmbedder:
    graph: bytes        # from convert_to_mnn
    weights: str        # what the user sees: the weights' name, none, or the weight file's name
    model_key: str
    preprocessing: Preprocessing
    threads: int
    precision: str = "fp32"
    embeds_in_workers: ClassVar[bool] = True  # see reader.embed_files
    _module: object = field(default=None, repr=False)  # loaded on first use, in its process

    def for_workers(self, workers: int) -> MnnEmbedder:
        """Return the copy each of `workers` processes loads: the CPUs shared among them."""
        return replace(self, threads=max(1, self.threads // workers), _module=None)

    def features(self, pixels: np.ndarray) -> np.ndarray:
        """Return the model's float32 features for uint8 crops (N x crop x crop x 3)."""
        if self._module is None:
            self._module = _load(self.graph, self.threads)
        import MNN.expr as F  # after _load: importing MNN prints what the CPU supports
        # Declared NCHW, which MNN takes as "as laid out": the graph transposes NHWC itself.
        batch = F.const(np.ascontiguousarray(pixels), pixels.shape, F.NCHW, F.uint8)
        return np.array(self._module.forward([batch])[0].read(), dtype=np.float32)

    def embed(self, pixels: np.ndarray) -> np.ndarray:
        """Return L2-normalised float32 embeddings for uint8 crops (N x crop x crop x 3)."""
        return unit_rows(self.features(pixels))[0]


def load_mnn_embedder(graph: bytes, weights: str, model_key: str,
                      preprocessing: Preprocessing) -> MnnEmbedder:
    """Return an embedder for a converted graph (see convert_to_mnn), on all usable CPUs."""
    return MnnEmbedder(graph, weights, model_key, preprocessing, usable_cpus())


def _load(graph: bytes, threads: int):
    with tempfile.TemporaryDirectory() as folder, _c_stdout_silenced():
        import MNN.nn as nn
        path = os.path.join(folder, "model.mnn")
        with open(path, "wb") as f:
            f.write(graph)
        # "high" is fp32 everywhere; "normal" would allow fp16 on ARM CPUs that have it.
        runtime = nn.create_runtime_manager(
            ({"backend": "CPU", "precision": "high", "numThread": threads},))
        return nn.load_module_from_file(path, ["pixels"], ["embedding"],
                                        runtime_manager=runtime)


@contextlib.contextmanager
def _c_stdout_silenced():
    # MNN printf()s what the CPU supports when it starts; the job's stdout ends with its
    # summary line, so the C library's stdout is flushed into /dev/null before it is restored.
    libc = ctypes.CDLL(None)
    sys.stdout.flush()
    libc.fflush(None)  # what is already buffered goes where it was meant to
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            try:
                yield
            finally:
                libc.fflush(None)
    finally:
        os.dup2(saved, 1)
        os.close(saved)
