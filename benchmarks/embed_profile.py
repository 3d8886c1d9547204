#!/usr/bin/env python
"""Where an image's seconds go in the job's embedding stage, per image on one core.

    embed_profile.py IMAGE_DIR [--model resnet18] [--images 200]

Decoding (the JPEG drafted at the decode size), cutting the model's crop, making the
thumbnail from the same decode, and each CPU engine's network (measure.py's candidates, one
single-threaded copy, as each decode worker runs it). Prints one JSON object, milliseconds.
"""
import argparse
import json
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

from core.imaging import open_rgb, thumbnail_jpeg  # noqa: E402
from indexer.embedders.choice import choose  # noqa: E402
from indexer.embedders.registry import OFFLINE_MODEL  # noqa: E402
from indexer.scan import scan  # noqa: E402


def per_image_ms(work, items) -> tuple[float, list]:
    """Return (milliseconds per item of `work`, its results)."""
    started = time.perf_counter()
    results = [work(item) for item in items]
    return (time.perf_counter() - started) * 1e3 / len(items), results


def profile(image_dir: str, model: str, count: int) -> dict:
    from benchmarks.benchmark import cpu_kind
    from indexer.embedders.engine import load_torch
    from indexer.embedders.measure import candidate_embedders
    choice = choose("imagenet" if model == OFFLINE_MODEL else "none", "cpu", model=model)
    pre = choice.backbone.preprocessing
    paths = [f.full_path for f in scan(os.path.abspath(image_dir))[0][:count]]
    decode_ms, decoded = per_image_ms(lambda p: open_rgb(p, pre.decode_size), paths)
    crop_ms, crops = per_image_ms(lambda d: pre.cut(d.rgb), decoded)
    thumbnail_ms, _ = per_image_ms(lambda d: thumbnail_jpeg(d.rgb), decoded)
    batch = np.stack(crops[:16])
    network_ms = {}
    import torch
    torch.set_num_threads(1)  # the torch candidate on one core too
    for name, embedder in candidate_embedders(choice, load_torch(choice))[0].items():
        if embedder.embeds_in_workers:
            embedder = embedder.for_workers(embedder.threads)  # one thread
        embedder.features(batch)  # loads it; the first batch also plans its kernels
        network_ms[name] = round(min(per_image_ms(embedder.features, [batch] * 3)[0]
                                     / len(batch) for _ in range(2)), 2)
    return {"cpu": cpu_kind(), "model": model, "images": len(paths),
            "decode_ms": round(decode_ms, 2), "crop_ms": round(crop_ms, 2),
            "thumbnail_ms": round(thumbnail_ms, 2), "network_ms_one_thread": network_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("image_dir")
    parser.add_argument("--model", default="resnet18")
    parser.add_argument("--images", type=int, default=200)
    args = parser.parse_args()
    print(json.dumps(profile(args.image_dir, args.model, args.images)), flush=True)


if __name__ == "__main__":
    main()
