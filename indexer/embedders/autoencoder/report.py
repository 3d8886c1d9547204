"""What training an autoencoder leaves: its settings, its loss history and two pictures.

Kept beside its checkpoint in the cache (a JSON file and two PNGs), so that a re-run reusing
the checkpoint has it too, and stored in the database for the site's /model page.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from core.atomic import write_atomically


@dataclass
class TrainingReport:
    settings: dict
    history: dict
    loss_png: bytes | None
    reconstructions_png: bytes | None


def sidecars(checkpoint: str) -> dict[str, str]:
    """Return the report files kept beside a checkpoint: json, loss and reconstructions PNGs."""
    stem = checkpoint[:-3] if checkpoint.endswith(".pt") else checkpoint
    return {"json": f"{stem}.json", "loss": f"{stem}.loss.png",
            "reconstructions": f"{stem}.reconstructions.png"}


def read_report(checkpoint: str) -> TrainingReport | None:
    """Return the report kept beside a checkpoint, or None where it has none."""
    paths = sidecars(checkpoint)
    try:
        with open(paths["json"]) as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return None
    pictures = {}
    for name in ("loss", "reconstructions"):
        try:
            with open(paths[name], "rb") as f:
                pictures[name] = f.read()
        except OSError:
            pictures[name] = None
    return TrainingReport(meta["settings"], meta["history"], pictures["loss"],
                          pictures["reconstructions"])


def write_report(checkpoint: str, report: TrainingReport) -> None:
    """Keep the report beside its checkpoint (the json last: it marks a whole report)."""
    paths = sidecars(checkpoint)
    for name, data in (("loss", report.loss_png), ("reconstructions", report.reconstructions_png)):
        if data:
            write_atomically(paths[name], data)
    meta = {"settings": report.settings, "history": report.history}
    write_atomically(paths["json"], json.dumps(meta).encode())
