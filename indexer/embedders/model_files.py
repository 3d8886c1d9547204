"""The files made from a model once per machine, and storing them for the web. No torch.

For each model_key, export.py makes (with torch, once):
- the web's ONNX graph: uint8 crop in, unit embedding out (search by upload runs it);
- for CPU fp32 keys, the job's MNN graph of the same model (mnn_engine.py runs it);
- the near-duplicate calibration.
They are cached under ~/.cache/similar-images (or $SIMILAR_IMAGES_CACHE), so that later runs
on this machine need neither torch nor an export, and stored in the database for the web.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from sqlalchemy.orm import Session

from core.atomic import write_atomically

from core.records import StoredEmbedder

log = logging.getLogger(__name__)
OPSET = 18
IR_VERSION = 10  # what onnxruntime 1.32 reads; the scorer graph is stamped with it
# Part of the cache key: bump it when the export or the calibration changes, since the
# model_key does not cover this code. 2: the MNN graph and the preprocessing joined;
# 3: the files' sizes recorded; 4: any registry backbone, the whole preprocessing;
# 5: flips and quarter turns written as gathers (--invariance); 6: the web's graph gives the
# raw features (FEATURES_OUTPUT), no longer unit vectors; 7: the calibration on photographs,
# with parts of pictures and the pixel check (calibration.VERSION 2); 8: int8 keys (their
# graph quantised, any batch) and the engine measured for a model (the "engine" file).
EXPORT_VERSION = 8
FEATURES_OUTPUT = "features"  # the web graph's output, as recorded in its preprocessing


@dataclass
class ModelFiles:
    onnx: bytes          # the web's graph; for int8 keys also the job's (any batch)
    mnn: bytes | None    # the job's CPU fp32 graph; None for other devices and precisions
    dim: int
    calibration: dict
    preprocessing: dict  # resize, crop, mean, std, interpolation

    def has_mnn(self) -> bool:
        return self.mnn is not None


def cache_paths(model_key: str) -> dict[str, str]:
    """Return the onnx, mnn and json files that cache a model_key's export on this machine,
    and the engine file (what measure.py chose for the key's unforced runs)."""
    folder = cache_folder()
    # The converters' versions too: a new torch, MNN or ONNX Runtime (its quantiser) may write
    # other graphs.
    key = f"v{EXPORT_VERSION}:{model_key}:{_versions()}".encode()
    stem = os.path.join(folder, hashlib.sha256(key).hexdigest()[:32])
    return {name: f"{stem}.{name}" for name in ("onnx", "mnn", "json")} | {
        "engine": f"{stem}.engine.json"}


def cache_folder() -> str:
    """Return this machine's folder for what the job makes once (exports, autoencoders)."""
    return os.environ.get("SIMILAR_IMAGES_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "similar-images")


def _versions() -> str:
    found = []
    for package in ("torch", "mnn", "onnxruntime"):
        try:
            found.append(f"{package}-{version(package)}")
        except PackageNotFoundError:
            found.append(f"{package}-none")
    return ",".join(found)


def load_cached(model_key: str) -> ModelFiles | None:
    """Return the files exported earlier on this machine for model_key, or None."""
    paths = cache_paths(model_key)
    try:
        with open(paths["json"]) as f:
            meta = json.load(f)
        onnx = _read(paths["onnx"], meta["sizes"]["onnx"])
        mnn = _read(paths["mnn"], meta["sizes"]["mnn"]) if meta["sizes"]["mnn"] else None
        if meta["model_key"] != model_key or onnx is None or (meta["sizes"]["mnn"] and not mnn):
            return None
        return ModelFiles(onnx, mnn, meta["dim"], meta["calibration"], meta["preprocessing"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _read(path: str, size: int) -> bytes | None:
    """Return the file's bytes if it has the size recorded with it (else it was cut short)."""
    with open(path, "rb") as f:
        data = f.read()
    return data if len(data) == size else None


def save_cached(model_key: str, files: ModelFiles) -> None:
    """Keep the export for the next run on this machine (it takes seconds to make).

    The model_key pins the weights, torchvision version, device and precision, so a cached
    export is the same bytes a new export would give. Failing to cache costs only time.
    """
    paths = cache_paths(model_key)
    sizes = {"onnx": len(files.onnx), "mnn": len(files.mnn) if files.mnn else 0}
    meta = json.dumps({"model_key": model_key, "dim": files.dim, "sizes": sizes,
                       "calibration": files.calibration, "preprocessing": files.preprocessing})
    contents = [("onnx", files.onnx), ("mnn", files.mnn), ("json", meta.encode())]
    try:
        for name, data in contents:  # the json last: it marks a whole entry
            if data is not None:  # two jobs exporting at once never interleave
                write_atomically(paths[name], data)
    except OSError as exc:
        log.warning("could not cache the model's export in %s: %s", paths["json"], exc)


def load_engine_choice(model_key: str) -> dict | None:
    """Return the engine measured for model_key's unforced runs on this machine, or None."""
    try:
        with open(cache_paths(model_key)["engine"]) as f:
            chosen = json.load(f)
        return chosen if chosen.get("model_key") == model_key else None
    except (OSError, ValueError):
        return None


def save_engine_choice(model_key: str, chosen: dict) -> None:
    """Keep what measure.py chose, so that later runs on this machine measure nothing."""
    path = cache_paths(model_key)["engine"]
    try:
        write_atomically(path, json.dumps({**chosen, "model_key": model_key}).encode())
    except OSError as exc:
        log.warning("could not cache the engine chosen in %s: %s", path, exc)


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


def ensure_stored(session: Session, model_key: str, weights: str, files: ModelFiles) -> dict:
    """Store the web's graph and calibration unless the database has them; return timings.

    A graph stored by an earlier version (unit vectors out) is replaced by this one (raw
    features out); its threshold stays, since scripts/calibrate_tiers.py --save may have set it.
    """
    stored = session.get(StoredEmbedder, model_key)
    if stored is not None and stored.preprocessing.get("output") == FEATURES_OUTPUT:
        return {}
    tick = time.perf_counter()
    log.info("storing %s's ONNX export (%.1f MB); near-duplicate threshold %.4f",
             model_key, len(files.onnx) / 1e6, files.calibration["threshold"])
    preprocessing = {**files.preprocessing, "input": "pixels", "output": FEATURES_OUTPUT,
                     "layout": "NHWC uint8, batch 1", "weights": weights}
    if stored is None:
        session.add(StoredEmbedder(
            model_key=model_key, onnx=files.onnx, scorer_onnx=scorer_onnx(files.dim),
            preprocessing=preprocessing, dim=files.dim,
            near_duplicate_threshold=files.calibration["threshold"],
            calibration=files.calibration))
    else:
        stored.onnx, stored.preprocessing = files.onnx, preprocessing
    session.commit()
    return {"store_model_seconds": time.perf_counter() - tick}
