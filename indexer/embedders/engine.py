"""Load the embedder a run uses and the model's files, importing torch only where needed.

torch is needed to export a model (once per model_key and machine) and to run the torch
engine (GPUs, bf16). A CPU run with its files cached runs on MNN (fp32) or ONNX Runtime
(int8) without it.
"""
from __future__ import annotations

from dataclasses import replace

from .choice import Choice
from .model_files import ModelFiles, load_cached, save_cached
from .registry import Embedder


def load_engine(choice: Choice) -> tuple[Embedder, ModelFiles, dict]:
    """Return (embedder, the model's files, timings of any export made now)."""
    files, torch_embedder, timings = load_cached(choice.model_key), None, {}
    if files is None or (choice.engine == "mnn" and not files.has_mnn()):
        torch_embedder = load_torch(choice)
        from .export import make_int8_files, make_model_files
        if choice.precision == "int8":
            files, timings = make_int8_files(torch_embedder, choice)
        else:
            # Converted only for the MNN engine: --engine torch must work without MNN.
            files, timings = make_model_files(torch_embedder, with_mnn=choice.engine == "mnn")
        save_cached(choice.model_key, files)
    if choice.engine == "mnn":
        from .mnn_engine import load_mnn_embedder
        embedder = load_mnn_embedder(files.mnn, choice.label, choice.model_key,
                                     choice.backbone.preprocessing)
    elif choice.engine == "onnxruntime":
        from .onnx_engine import load_onnx_embedder
        embedder = load_onnx_embedder(files.onnx, choice.label, choice.model_key,
                                      choice.backbone.preprocessing, choice.invariance)
    else:
        embedder = torch_embedder or load_torch(choice)
    return embedder, files, timings


def load_torch(choice: Choice):
    """Return the torch embedder of a choice (in fp32 for an int8 one: what is quantised)."""
    # Imported here: torch and torchvision take seconds to import, and most runs skip them.
    from .torch_engine import load_torch_embedder
    if choice.precision == "int8":
        choice = replace(choice, precision="fp32", engine="torch")
    return load_torch_embedder(choice)
