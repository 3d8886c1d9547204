"""int8 with ONNX Runtime: its own model key, and embeddings close to fp32's on photographs."""
import numpy as np
import pytest

from indexer.embedders.choice import choose
from indexer.embedders.hardware import cpu_has_vnni
from indexer.embedders.quantize import MIN_COSINE, held_out_inputs, min_cosine


@pytest.fixture(scope="module")
def int8(tmp_path_factory):
    """ResNet18 (seeded random weights) quantised and loaded as the job loads it."""
    from indexer.embedders.engine import load_engine
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path_factory.mktemp("cache")))
        choice = choose("none", "cpu", engine="onnxruntime")
        embedder, files, timings = load_engine(choice)
        yield choice, embedder, files, timings


def test_int8_is_a_precision_of_its_own_key():
    int8 = choose("none", "cpu", "int8")
    assert (int8.engine, int8.precision) == ("onnxruntime", "int8")
    assert int8.model_key.endswith(":cpu-int8")
    assert int8.model_key != choose("none", "cpu", "fp32").model_key
    assert choose("none", "cpu", engine="onnxruntime").model_key == int8.model_key
    for engine in ("mnn", "torch"):
        with pytest.raises(RuntimeError):
            choose("none", "cpu", "int8", engine)


def test_only_unforced_cpu_runs_are_measured():
    assert choose("none", "cpu").by_measurement
    assert not choose("none", "cpu", "fp32").by_measurement
    assert not choose("none", "cpu", engine="mnn").by_measurement
    assert not choose("none", "cpu", model="autoencoder").by_measurement


def test_int8_graph_runs_in_the_workers_and_serves_the_web(int8):
    choice, embedder, files, timings = int8
    assert set(timings) == {"export_seconds", "calibrate_seconds"}
    assert embedder.embeds_in_workers and embedder.model_key == choice.model_key
    assert files.mnn is None and files.dim == 512
    # 11.7M parameters in one byte each (fp32's export is over 40 MB).
    assert 10e6 < len(files.onnx) < 20e6
    vectors = embedder.for_workers(2).embed(np.zeros((3, 224, 224, 3), np.uint8))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_int8_stays_close_to_fp32_on_photographs_it_was_not_calibrated_on(int8):
    from indexer.embedders.torch_engine import load_embedder
    _, embedder, _, _ = int8
    photos = held_out_inputs(embedder.preprocessing)
    fp32 = load_embedder("none", "cpu", "fp32").features(photos)
    closeness = min_cosine(embedder.features(photos), fp32)
    assert closeness < 0.99999  # not fp32 to rounding: the integer arithmetic really ran
    if cpu_has_vnni():  # elsewhere 16-bit sums may saturate: measure.py then drops int8
        assert closeness >= MIN_COSINE
