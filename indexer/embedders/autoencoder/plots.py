"""Draw what training leaves for people: the loss curves and originals beside reconstructions.

PNG bytes, drawn with matplotlib's Agg backend (no display needed); the job stores them in
the database for the site's /model page. Only the job imports this module.
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")  # before pyplot: a job on a server has no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

RECONSTRUCTIONS = 8  # validation images shown, each above its reconstruction


def _png(figure) -> bytes:
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return out.getvalue()


def loss_curves_png(history: dict) -> bytes:
    """Return the training and validation loss per epoch, the kept epoch marked."""
    figure, axes = plt.subplots(figsize=(6, 3.5))
    epochs = np.arange(1, len(history["train_loss"]) + 1)
    axes.plot(epochs, history["train_loss"], marker=".", label="training (flipped)")
    axes.plot(epochs, history["validation_loss"], marker=".", label="validation")
    best = history.get("best_epoch")
    if best:
        axes.axvline(best, color="grey", linestyle="--", label=f"kept: epoch {best}")
    axes.set_yscale("log")
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean squared error")
    axes.legend()
    axes.set_title("Autoencoder reconstruction loss")
    return _png(figure)


def reconstructions_png(originals: np.ndarray, reconstructed: np.ndarray) -> bytes:
    """Return uint8 NHWC originals (top row) above their reconstructions (bottom row)."""
    count = len(originals)
    figure, axes = plt.subplots(2, count, figsize=(1.2 * count, 2.6), squeeze=False)
    for column in range(count):
        for row, images in enumerate((originals, reconstructed)):
            axes[row, column].imshow(images[column])
            axes[row, column].axis("off")
    axes[0, 0].set_title("original", fontsize=8, loc="left")
    axes[1, 0].set_title("reconstruction", fontsize=8, loc="left")
    return _png(figure)
