"""The CPU engine chosen by timing the candidates on real photographs, once per machine."""
import pytest

from indexer.embedders import measure
from indexer.embedders.choice import choose
from indexer.embedders.model_files import load_cached, load_engine_choice, save_engine_choice
from indexer.embedders.quantize import MIN_COSINE


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))


def test_a_forced_engine_is_never_measured(cache):
    forced = choose("none", "cpu", "fp32")
    assert measure.settle(forced) is forced


def test_a_machine_measures_once_then_reads_its_choice(cache, monkeypatch):
    choice = choose("none", "cpu")
    save_engine_choice(choice.model_key, {"engine": "onnxruntime", "precision": "int8"})

    def measured_again(_choice):
        raise AssertionError("measured although the choice was cached")

    monkeypatch.setattr(measure, "measure", measured_again)
    settled = measure.settle(choice)
    assert (settled.engine, settled.precision) == ("onnxruntime", "int8")
    assert settled.model_key.endswith(":cpu-int8") and not settled.by_measurement


@pytest.mark.parametrize("model, weights", [("resnet18", "none"),
                                            ("efficientnet_lite0", "imagenet")])
def test_the_fastest_engine_that_keeps_fp32s_embeddings_is_chosen(cache, model, weights):
    choice = choose(weights, "cpu", model=model)
    settled = measure.settle(choice)
    chosen = load_engine_choice(choice.model_key)
    speeds, cosines = chosen["images_per_s"], chosen["min_cosine"]
    assert {"fp32 on mnn", "int8 on onnxruntime"} <= set(speeds)
    assert ("bf16 on torch" in speeds) == choice.backbone.bf16
    kept = [name for name in speeds if cosines[name] >= MIN_COSINE]
    name = f"{settled.precision} on {settled.engine}"
    assert name in kept and speeds[name] == max(speeds[k] for k in kept)
    if model == "efficientnet_lite0":
        # Lite0's depthwise layers lose too much in int8 (least cosine 0.95 on photographs).
        assert cosines["int8 on onnxruntime"] < MIN_COSINE and settled.precision == "fp32"
    if settled.precision == "int8":  # the graph timed is kept, calibrated, for the job
        assert load_cached(settled.model_key).calibration["threshold"] > 0
