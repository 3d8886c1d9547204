"""A convolutional autoencoder whose latent vector is an image's embedding.

The encoder halves the image four times (stride-2 convolutions, BatchNorm, ReLU) and maps
the last feature map to a dense latent vector; the decoder mirrors it with transposed
convolutions back to the image. Only the encoder is exported and embeds: it is what
networks.embedding_network returns for --model autoencoder.

Checkpoints are plain dictionaries (settings, state_dict, history) that torch.load reads
with weights_only=True, so a checkpoint file cannot run code when loaded.

Only the job imports this module (torch at its top).
"""
from __future__ import annotations

from typing import BinaryIO

import torch
from torch import nn

from .settings import AutoencoderSettings

CHANNELS = (16, 32, 64, 128)  # one stride-2 stage each: the image shrinks 16x a side
SHRINK = 2 ** len(CHANNELS)


def _down(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


def _up(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.ConvTranspose2d(c_in, c_out, 4, stride=2, padding=1, bias=False),
                         nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class Encoder(nn.Module):
    """Standardised NCHW images in, latent vectors out (no activation: cosine compares them)."""

    def __init__(self, latent: int, image_size: int):
        super().__init__()
        side = image_size // SHRINK
        stages, c_in = [], 3
        for c_out in CHANNELS:
            stages.append(_down(c_in, c_out))
            c_in = c_out
        self.features = nn.Sequential(*stages)
        self.flatten = nn.Flatten()
        self.latent = nn.Linear(CHANNELS[-1] * side * side, latent)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.latent(self.flatten(self.features(x)))


class Decoder(nn.Module):
    """Latent vectors in, standardised images out (tanh: the input's -1..1 range)."""

    def __init__(self, latent: int, image_size: int):
        super().__init__()
        self.side = image_size // SHRINK
        self.expand = nn.Linear(latent, CHANNELS[-1] * self.side * self.side)
        widths = CHANNELS[::-1]
        self.stages = nn.Sequential(*(_up(a, b) for a, b in zip(widths, widths[1:])))
        self.out = nn.ConvTranspose2d(CHANNELS[0], 3, 4, stride=2, padding=1)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.expand(z)).view(-1, CHANNELS[-1], self.side, self.side)
        return torch.tanh(self.out(self.stages(x)))


class ConvAutoencoder(nn.Module):
    def __init__(self, latent: int, image_size: int):
        super().__init__()
        if image_size % SHRINK:
            raise ValueError(f"the image size must be a multiple of {SHRINK}, not {image_size}")
        self.encoder = Encoder(latent, image_size)
        self.decoder = Decoder(latent, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


def untrained(settings: AutoencoderSettings) -> ConvAutoencoder:
    """Return the architecture with torch's default initialisation, seeded: the baseline."""
    with torch.random.fork_rng():
        torch.manual_seed(settings.seed)
        return ConvAutoencoder(settings.latent, settings.image_size)


def save_checkpoint(path: str | BinaryIO, model: ConvAutoencoder, settings: AutoencoderSettings,
                    history: dict) -> None:
    """Write the whole autoencoder, its settings and its loss history to `path` (or a file)."""
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save({"settings": settings.as_dict(), "state_dict": state, "history": history}, path)


def load_checkpoint(path: str) -> tuple[ConvAutoencoder, AutoencoderSettings, dict]:
    """Return (the autoencoder in eval mode, its settings, its history) from a checkpoint."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    settings = AutoencoderSettings.from_dict(checkpoint["settings"])
    model = ConvAutoencoder(settings.latent, settings.image_size)
    model.load_state_dict(checkpoint["state_dict"])
    return model.eval(), settings, checkpoint.get("history", {})
