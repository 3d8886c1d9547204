"""Choose a model's CPU engine by timing the candidates on this machine, once.

CPU flags do not say which engine is fastest: on a Zen 5 (AVX512-BF16, VNNI, no AMX) torch
bf16 lost to MNN fp32, and int8 on ONNX Runtime beat both. So at a machine's first unforced
run of a model (when it exports the model anyway) each candidate embeds the same real
decoded photographs; those whose embeddings leave fp32's (cosine under quantize.MIN_COSINE
on a photograph the int8 ranges never saw) are dropped, and the fastest of the rest is kept
in the model's cache (model_files.save_engine_choice). Later runs read it and measure
nothing; --engine or --precision forces one and skips all this.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace

import numpy as np

from .choice import Choice
from .engine import load_torch
from .hardware import usable_cpus
from .model_files import load_engine_choice, save_cached, save_engine_choice
from .quantize import MIN_COSINE, held_out_inputs, min_cosine

log = logging.getLogger(__name__)
# Timing rounds, interleaved so that a busy moment of a shared machine hits every candidate;
# each candidate's best round counts.
ROUNDS = 3
TIMING_IMAGES = 16  # one worker batch (read.WORKER_BATCH)


def settle(choice: Choice) -> Choice:
    """Return the choice with the engine and precision measured for this machine, where they
    were left to it (choice.by_measurement); otherwise the choice as it is."""
    if not choice.by_measurement:
        return choice
    chosen = load_engine_choice(choice.model_key)
    if chosen is None:
        chosen = measure(choice)
        save_engine_choice(choice.model_key, chosen)
    return replace(choice, engine=chosen["engine"], precision=chosen["precision"],
                   by_measurement=False)


def measure(choice: Choice) -> dict:
    """Time every candidate engine; return the fastest that keeps fp32's embeddings, with
    each candidate's images/s and least cosine to fp32."""
    fp32 = load_torch(replace(choice, precision="fp32", engine="torch"))
    photos = held_out_inputs(choice.backbone.preprocessing)
    reference = fp32.features(photos)
    batch = np.resize(photos, (TIMING_IMAGES, *photos.shape[1:]))  # the photos, repeated
    candidates, int8 = candidate_embedders(choice, fp32)
    cosines = {name: min_cosine(e.features(photos), reference) for name, e in candidates.items()}
    speeds = {name: 0.0 for name in candidates}
    for _ in range(ROUNDS):
        for name, embedder in candidates.items():
            speeds[name] = max(speeds[name], images_per_second(embedder, batch))
    kept = [name for name in candidates if cosines[name] >= MIN_COSINE]
    best = max(kept, key=speeds.get)
    log.info("engines on this CPU (images/s, least cosine to fp32): %s; chose %s",
             {n: (round(speeds[n], 1), round(cosines[n], 5)) for n in candidates}, best)
    precision, engine = best.split(" on ")
    if precision == "int8":  # keep the graph just made and timed; calibrate it
        from .export import make_int8_files
        settled = replace(choice, precision="int8", engine="onnxruntime")
        save_cached(settled.model_key, make_int8_files(fp32, settled, int8)[0])
    return {"engine": engine, "precision": precision,
            "images_per_s": {n: round(v, 1) for n, v in speeds.items()},
            "min_cosine": {n: round(v, 5) for n, v in cosines.items()}}


def candidate_embedders(choice: Choice, fp32) -> tuple[dict, tuple[bytes, int]]:
    """Return ({"precision on engine": embedder}, the int8 graph made for the int8 one)."""
    from .export import export_onnx, int8_graph
    from .mnn_engine import convert_to_mnn, load_mnn_embedder
    from .onnx_engine import load_onnx_embedder
    pre = choice.backbone.preprocessing
    mnn = convert_to_mnn(export_onnx(fp32, any_batch=True, normalized=False)[0])
    int8 = int8_graph(fp32)
    candidates = {
        "fp32 on mnn": load_mnn_embedder(mnn, choice.label, choice.model_key, pre),
        "int8 on onnxruntime": load_onnx_embedder(int8[0], choice.label, choice.model_key,
                                                  pre, choice.invariance),
    }
    if choice.backbone.bf16:  # the backbones that keep their accuracy in bf16
        candidates["bf16 on torch"] = load_torch(replace(choice, precision="bf16",
                                                         engine="torch"))
    return candidates, int8


def images_per_second(embedder, batch: np.ndarray) -> float:
    """Return the job's throughput with this engine on this machine, from one batch.

    An engine that embeds in the decode workers runs one single-threaded copy per CPU, so
    one copy is timed on one thread and counted once per CPU; torch runs in the main
    process on every CPU.
    """
    copies = usable_cpus() if embedder.embeds_in_workers else 1
    if copies > 1:
        embedder = embedder.for_workers(copies)
    embedder.features(batch)  # loads the model; the first run also plans its kernels
    started = time.perf_counter()
    embedder.features(batch)
    return copies * len(batch) / (time.perf_counter() - started)
