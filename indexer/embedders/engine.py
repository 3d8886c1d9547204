"""Load the embedder a run uses and the model's files, importing torch only where needed.

torch is needed to export a model (once per model_key and machine) and to run the torch
engine (GPUs, bf16). A CPU fp32 run with its files cached runs on MNN without it.
"""
from __future__ import annotations

from .choice import Choice
from .model_files import ModelFiles, load_cached, save_cached
from .registry import Embedder


def load_engine(choice: Choice) -> tuple[Embedder, ModelFiles, dict]:
    """Return (embedder, the model's files, timings of any export made now)."""
    files, torch_embedder, timings = load_cached(choice.model_key), None, {}
    if files is None or (choice.engine == "mnn" and not files.has_mnn()):
        torch_embedder = _load_torch(choice)
        from .export import make_model_files
        # Converted only for the MNN engine: --engine torch must work without MNN.
        files, timings = make_model_files(torch_embedder, with_mnn=choice.engine == "mnn")
        save_cached(choice.model_key, files)
    if choice.engine == "mnn":
        from .mnn_engine import load_mnn_embedder
        embedder = load_mnn_embedder(files.mnn, choice.label, choice.model_key,
                                     choice.backbone.preprocessing)
    else:
        embedder = torch_embedder or _load_torch(choice)
    return embedder, files, timings


def _load_torch(choice: Choice):
    # Imported here: torch and torchvision take seconds to import, and most runs skip them.
    from .torch_engine import load_torch_embedder
    return load_torch_embedder(choice)
