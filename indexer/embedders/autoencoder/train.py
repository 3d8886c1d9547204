"""Train an autoencoder on a collection's files and leave its checkpoint and report behind.

Decode once to a uint8 file (pixels.py), train (epochs.py), save the best epoch's
checkpoint and draw its report (plots.py, report.py). Only the job imports this (torch).
"""
from __future__ import annotations

import io
import logging
import os
import tempfile

from core.atomic import write_atomically

from .report import TrainingReport, write_report
from .network import save_checkpoint
from .settings import AutoencoderSettings
from ..hardware import pick_device
from .pixels import decode_to_file, split_rows
from ...scan import ScannedFile
from .epochs import reconstruct, train_autoencoder
from .plots import RECONSTRUCTIONS, loss_curves_png, reconstructions_png

log = logging.getLogger(__name__)


def train_and_save(files: list[ScannedFile], settings: AutoencoderSettings, dest: str, *,
                   device: str = "auto", workers: int = 2,
                   progress: bool = True) -> TrainingReport:
    """Train on the distinct contents of `files`; write the checkpoint to `dest`."""
    # One row per content, in content-hash order: the split does not depend on file names
    # or copies, and the same set of images always trains the same way.
    by_hash = {f.content_hash: f.full_path for f in files}
    paths = [by_hash[h] for h in sorted(by_hash)]
    os.makedirs(os.path.dirname(dest), exist_ok=True)
    with tempfile.TemporaryDirectory(dir=os.path.dirname(dest)) as tmp:
        pixels, rows = decode_to_file(paths, settings.preprocessing(),
                                      os.path.join(tmp, "pixels.npy"), workers)
        if not len(rows):
            raise ValueError("none of the images could be decoded to train an autoencoder")
        trained = train_autoencoder(pixels, rows, settings, pick_device(device), progress)
        shown = pixels[split_rows(rows, settings.seed)[1][:RECONSTRUCTIONS]]
        report = TrainingReport(settings.as_dict(), {**trained.history, "images": len(rows)},
                                loss_curves_png(trained.history),
                                reconstructions_png(shown, reconstruct(trained.model, shown)))
        del pixels  # the memory map, before its folder goes
    checkpoint = io.BytesIO()
    save_checkpoint(checkpoint, trained.model, settings, report.history)
    write_atomically(dest, checkpoint.getvalue())
    write_report(dest, report)
    history = report.history
    log.info("trained the autoencoder on %d images: %d epochs (best %d), %.1f s, %s",
             history["images"], history["epochs_run"], history["best_epoch"],
             history["seconds"], dest)
    return report
