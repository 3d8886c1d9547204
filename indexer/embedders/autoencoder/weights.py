"""Where a run's autoencoder comes from: trained now, found in the cache, a file, or none.

--model autoencoder with the default weights trains on the folder's images, once: the
checkpoint lands in the cache folder (~/.cache/similar-images or $SIMILAR_IMAGES_CACHE)
under a key of the images' content hashes and the training settings, with its report
beside it (settings and losses as JSON, the two PNGs). A re-run then finds it:
- the same images and settings: the same checkpoint (keyed by content, so renames too);
- new or removed images: the latest checkpoint trained for this folder with these settings,
  so a re-run embeds only the new files, with the same weights (their vectors stay
  comparable with the stored ones); --retrain trains afresh on the current images.

torch is imported only to train or to read a checkpoint that is not ours.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.atomic import write_atomically
from core.records import TrainedModel

from .report import TrainingReport, read_report
from .settings import AutoencoderSettings
from ..registry import WeightsUnavailable
from ..model_files import cache_folder
from ...scan import ScannedFile, hash_files, scan

log = logging.getLogger(__name__)
TRAIN = ("imagenet", "train")  # the --weights values that mean "train, or reuse": the default


@dataclass
class AutoencoderWeights:
    weights: str                   # a checkpoint's path, or none
    settings: AutoencoderSettings
    report: TrainingReport | None  # None for an untrained autoencoder
    trained_now: bool = False


def images_key(files: list[ScannedFile], settings: AutoencoderSettings) -> str:
    """Return the cache key of a training run: the set of images' contents and the settings."""
    digest = hashlib.sha256(settings.key().encode())
    for content_hash in sorted({f.content_hash for f in files}):
        digest.update(content_hash.encode())
    return digest.hexdigest()[:24]


def checkpoint_path(key: str) -> str:
    return os.path.join(cache_folder(), f"autoencoder-{key}.pt")


def latest_pointer(root: str, settings: AutoencoderSettings) -> str:
    """Return the file naming the checkpoint last trained for this folder and settings."""
    name = hashlib.sha256(f"{os.path.realpath(root)}\0{settings.key()}".encode()).hexdigest()
    return os.path.join(cache_folder(), f"autoencoder-latest-{name[:24]}.json")


def resolve(root: str, weights: str, settings: AutoencoderSettings, *, retrain: bool,
            device: str, workers: int, progress: bool) -> AutoencoderWeights:
    """Return the autoencoder a run of `root` embeds with, training it if it must."""
    if weights == "none":
        return AutoencoderWeights("none", settings, None)
    if weights not in TRAIN:
        return from_file(weights)
    files, _ = hash_files(scan(root)[0])
    exact, pointer = checkpoint_path(images_key(files, settings)), latest_pointer(root, settings)
    if not retrain:
        for candidate in (exact, _read_pointer(pointer)):
            if candidate and os.path.isfile(candidate):
                log.info("reusing the autoencoder %s (--retrain trains afresh)", candidate)
                return AutoencoderWeights(candidate, settings, read_report(candidate))
    if not files:
        raise ValueError(f"no images in {root} to train an autoencoder on; "
                         "the previous index keeps serving")
    from .train import train_and_save
    report = train_and_save(files, settings, exact, device=device, workers=workers,
                            progress=progress)
    write_atomically(pointer, json.dumps({"checkpoint": exact}).encode())
    return AutoencoderWeights(exact, settings, report, trained_now=True)


def from_file(path: str) -> AutoencoderWeights:
    """Return a checkpoint given as --weights PATH, with the settings it was trained with."""
    if not os.path.isfile(path):
        raise WeightsUnavailable(f"no autoencoder checkpoint at {path!r}; leave --weights out "
                                 "to train one on the folder, or use --weights none")
    report = read_report(path)
    if report is None:
        from .network import load_checkpoint
        try:
            _, settings, history = load_checkpoint(path)
        except Exception as exc:
            raise WeightsUnavailable(f"{path!r} is not an autoencoder checkpoint ({exc})") from exc
        from .plots import loss_curves_png
        report = TrainingReport(settings.as_dict(), history,
                                loss_curves_png(history) if history.get("train_loss") else None,
                                None)
    return AutoencoderWeights(path, AutoencoderSettings.from_dict(report.settings), report)


def _read_pointer(pointer: str) -> str | None:
    try:
        with open(pointer) as f:
            return json.load(f)["checkpoint"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_report_stored(session: Session, model_key: str, report: TrainingReport) -> None:
    """Store the training report for the site's /model page unless model_key has one."""
    if session.scalar(select(TrainedModel.model_key).where(TrainedModel.model_key == model_key)):
        return
    session.add(TrainedModel(model_key=model_key, settings=report.settings,
                             history=report.history, loss_png=report.loss_png,
                             reconstructions_png=report.reconstructions_png))
    session.commit()
