"""Train the autoencoder on a collection's decoded crops (pixels.py): the loop only.

A fixed-seed 85:15 split, random horizontal flips of the training images, Adam with the
learning rate halved when validation loss stalls, and early stopping that keeps the epoch
of lowest validation loss. Only the job imports this module (torch at its top).
"""
from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm import tqdm

from .network import ConvAutoencoder, untrained
from .settings import AutoencoderSettings
from ..hardware import cpu_has_amx
from ..networks import standardize
from .pixels import batches, split_rows

# Halve the learning rate after this many epochs without a better validation loss: well
# before early stopping (settings.patience) gives up, so a lower rate gets its chance.
PLATEAU_PATIENCE = 2


@dataclass
class EarlyStopping:
    """Track the lowest validation loss; say when `patience` epochs have not beaten it."""

    patience: int
    best_loss: float = math.inf
    best_epoch: int = -1  # 0-based; -1 before the first epoch
    stale: int = 0

    def update(self, epoch: int, loss: float) -> bool:
        """Record an epoch's validation loss; return True if it is the best so far."""
        if loss < self.best_loss:
            self.best_loss, self.best_epoch, self.stale = loss, epoch, 0
            return True
        self.stale += 1
        return False

    @property
    def should_stop(self) -> bool:
        return self.stale >= self.patience


@dataclass
class Trained:
    model: ConvAutoencoder  # the best epoch's weights, in eval mode, on the CPU
    history: dict = field(default_factory=dict)


def bf16_pays(device: torch.device) -> bool:
    """Return True on a CUDA GPU that has bf16 and on an AMX CPU (see choice.pick_precision)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return cpu_has_amx()


def autocast_for(device: torch.device):
    """bf16 autocast where it pays; else plain fp32."""
    if bf16_pays(device):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def to_input(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """Turn uint8 NHWC crops into the autoencoder's standardised NCHW input (-1..1)."""
    half = torch.full((1, 3, 1, 1), 0.5, device=device)
    x = standardize(torch.from_numpy(batch).to(device, non_blocking=True), half, half)
    return x.contiguous(memory_format=torch.channels_last)


def flipped(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Mirror a random half of a batch left to right (the augmentation); in place."""
    flip = rng.random(len(batch)) < 0.5
    batch[flip] = batch[flip][:, :, ::-1]
    return batch


def train_epoch(model: ConvAutoencoder, pixels: np.ndarray, rows: np.ndarray,
                settings: AutoencoderSettings, optimizer: torch.optim.Optimizer,
                rng: np.random.Generator, device: torch.device) -> float:
    """Run one pass over the training rows, shuffled and flipped; return the mean loss."""
    model.train()
    total = 0.0
    for batch in batches(pixels, rows, settings.batch_size, rng):
        x = to_input(flipped(batch, rng), device)
        with autocast_for(device):
            loss = torch.nn.functional.mse_loss(model(x).float(), x)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.item() * len(batch)
    return total / len(rows)


def validation_loss(model: ConvAutoencoder, pixels: np.ndarray, rows: np.ndarray,
                    batch_size: int, device: torch.device) -> float:
    """Return the mean reconstruction loss on the held-back rows, as they are (no flips)."""
    model.eval()
    total = 0.0
    with torch.inference_mode(), autocast_for(device):
        for batch in batches(pixels, rows, batch_size):
            x = to_input(batch, device)
            total += torch.nn.functional.mse_loss(model(x).float(), x).item() * len(batch)
    return total / len(rows)


def train_autoencoder(pixels: np.ndarray, rows: np.ndarray, settings: AutoencoderSettings,
                      device: str = "cpu", progress: bool = True) -> Trained:
    """Train on `rows` of `pixels` (uint8 N x S x S x 3); return the best epoch's model."""
    started = time.perf_counter()
    target = torch.device(device)
    train_rows, validation_rows = split_rows(rows, settings.seed)
    model = untrained(settings).to(target, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.learning_rate)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5,
                                                           patience=PLATEAU_PATIENCE)
    stopper, rng = EarlyStopping(settings.patience), np.random.default_rng(settings.seed)
    history = {"train_loss": [], "validation_loss": [], "learning_rate": []}
    best = None
    bar = tqdm(range(settings.epochs), desc="train autoencoder", unit="epoch",
               disable=not progress, file=sys.stderr)
    for epoch in bar:
        history["learning_rate"].append(optimizer.param_groups[0]["lr"])
        history["train_loss"].append(train_epoch(model, pixels, train_rows, settings,
                                                 optimizer, rng, target))
        history["validation_loss"].append(validation_loss(model, pixels, validation_rows,
                                                          settings.batch_size, target))
        scheduler.step(history["validation_loss"][-1])
        if stopper.update(epoch, history["validation_loss"][-1]):
            best = copy.deepcopy(model.state_dict())
        bar.set_postfix(train=f"{history['train_loss'][-1]:.4f}",
                        val=f"{history['validation_loss'][-1]:.4f}",
                        best=stopper.best_epoch + 1)
        if stopper.should_stop:
            break
    bar.close()
    model.load_state_dict(best)
    seconds = time.perf_counter() - started
    epochs_run = len(history["train_loss"])
    history.update(best_epoch=stopper.best_epoch + 1, epochs_run=epochs_run,
                   seconds=round(seconds, 2), train_images=int(len(train_rows)),
                   validation_images=int(len(validation_rows)), device=target.type,
                   images_per_second=round(epochs_run * len(train_rows) / seconds, 1),
                   precision="bf16" if bf16_pays(target) else "fp32")
    return Trained(model.float().cpu().eval(), history)


def reconstruct(model: ConvAutoencoder, batch: np.ndarray) -> np.ndarray:
    """Return the autoencoder's reconstructions of uint8 NHWC crops, as uint8 NHWC."""
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model.eval()(to_input(batch, device)).float()
    return ((out + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
