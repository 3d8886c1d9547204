"""What an autoencoder is trained with, and the backbone entry it makes. No torch here:
the job settles its model key before deciding whether to import torch."""
from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from core.imaging import Preprocessing

from ..registry import BACKBONES, Backbone

AUTOENCODER = "autoencoder"
# Inputs are scaled to -1..1, the range of the decoder's tanh output.
AUTOENCODER_MEAN = (0.5, 0.5, 0.5)
AUTOENCODER_STD = (0.5, 0.5, 0.5)
# Part of the trained-weights cache key: bump it when training changes what it produces.
TRAINING_VERSION = 1


@dataclass(frozen=True)
class AutoencoderSettings:
    latent: int = 512        # the embedding's dimension
    # The square the autoencoder sees (a multiple of 16). 32 px ranked the photo families as
    # well as 48 or 64 px did in quick trials (precision@10 0.72-0.76 each, README), faster.
    image_size: int = 32
    # An upper bound: training stops when validation loss stalls. 30 epochs of 850 images
    # keep 1000 images within the 5-minute target on 2 busy cores.
    epochs: int = 30
    batch_size: int = 32
    learning_rate: float = 2e-3
    patience: int = 6        # epochs without a better validation loss before stopping
    seed: int = 0            # the split, the shuffling, the flips and the initial weights

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> AutoencoderSettings:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})

    def key(self) -> str:
        """Return a short name of every setting that changes the trained weights."""
        text = json.dumps({**self.as_dict(), "version": TRAINING_VERSION}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def preprocessing(self) -> Preprocessing:
        # The whole centre square, not a crop of a larger resize: at 32 px every pixel counts.
        return Preprocessing(self.image_size, self.image_size, AUTOENCODER_MEAN,
                             AUTOENCODER_STD)

    def backbone(self) -> Backbone:
        """Return the registry entry with this latent size and input resolution."""
        return dataclasses.replace(BACKBONES[AUTOENCODER], dim=self.latent,
                                   preprocessing=self.preprocessing())
