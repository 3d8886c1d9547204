"""EfficientNet-Lite1 and Lite2: their packages' real ImageNet weights, loaded strictly."""
import hashlib
import io
from dataclasses import replace

import pytest
import torch

from indexer.embedders.lite import VARIANTS, build_efficientnet_lite, same_padding
from indexer.embedders.networks import classifier, standardize
from indexer.embedders.registry import BACKBONES, WeightsUnavailable
from samples.pictures import photographs

NEW = ("efficientnet_lite1", "efficientnet_lite2")


def test_same_padding_is_tf_s_for_odd_and_even_sides():
    assert same_padding(3, 2, 224) == (0, 1)  # even: the extra row at the bottom right
    assert same_padding(5, 2, 28) == (1, 2)
    assert same_padding(5, 2, 15) == (2, 2)   # odd: as many on both sides
    assert same_padding(3, 2, 33) == (1, 1)


@pytest.mark.parametrize("name", NEW)
def test_each_variant_s_feature_map_halves_as_tf_s_does(name):
    variant = VARIANTS[name]
    model = build_efficientnet_lite(name).eval()
    with torch.inference_mode():
        maps = model.features(torch.zeros(1, 3, variant.crop, variant.crop))
    side = -(-variant.crop // 32)  # five stride-2 layers, each rounding up (TF's 'same')
    assert maps.shape == (1, 1280, side, side)
    assert BACKBONES[name].preprocessing.crop == variant.crop


@pytest.mark.parametrize("name", NEW)
@pytest.mark.parametrize("photo,labels", [("chelsea", {281, 282, 285}),  # the cats
                                          ("coffee", {967, 968, 504})])  # espresso, cup, mug
def test_real_weights_put_photographs_in_their_imagenet_classes(name, photo, labels):
    backbone = BACKBONES[name]
    pre = backbone.preprocessing
    picture = photographs([photo])[photo]
    pixels = torch.from_numpy(pre.model_input(_jpeg(picture)).pixels[None].copy())
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in (pre.mean, pre.std))
    with torch.inference_mode():
        logits = classifier(backbone, "imagenet").eval()(standardize(pixels, mean, std))
    assert labels & set(logits[0].topk(3).indices.tolist())


def test_a_wrong_checksum_is_refused():
    backbone = BACKBONES["efficientnet_lite1"]
    wrong = replace(backbone, weights=replace(backbone.weights,
                                              checksum=hashlib.sha256(b"x").hexdigest()))
    with pytest.raises(WeightsUnavailable, match="sha256"):
        classifier(wrong, "imagenet")


def _jpeg(picture):
    out = io.BytesIO()
    picture.save(out, "JPEG", quality=95)
    out.seek(0)
    return out
