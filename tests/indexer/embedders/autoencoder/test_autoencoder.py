"""The autoencoder trained on the collection: its split, early stopping, streaming, model key
and reuse (unit tests), and the whole job through the CLI and the API."""
import hashlib
import io
import os

import numpy as np
import pytest
import torch
from PIL import Image

from tests.support.commands import run_build
from samples.drawn import make_collection
from webapp import create_app
from indexer.embedders.autoencoder import train, weights
from indexer.embedders.autoencoder.report import TrainingReport
from indexer.embedders.autoencoder.network import ConvAutoencoder, save_checkpoint, untrained
from indexer.embedders.autoencoder.settings import AutoencoderSettings
from indexer.embedders.choice import choose
from indexer.embedders.autoencoder.pixels import batches, decode_to_file, split_rows
from indexer.embedders.autoencoder.epochs import EarlyStopping, train_autoencoder, validation_loss

TINY = AutoencoderSettings(latent=16, image_size=16, epochs=3, batch_size=8)


def test_split_is_85_15_disjoint_and_the_same_every_time():
    rows = np.arange(200)
    train, validation = split_rows(rows, seed=0)
    assert (len(train), len(validation)) == (170, 30)
    assert sorted(np.concatenate([train, validation])) == list(rows)
    again = split_rows(rows, seed=0)
    assert np.array_equal(again[0], train) and np.array_equal(again[1], validation)
    assert not np.array_equal(split_rows(rows, seed=1)[1], validation)
    # The families set: 170 images leave 26 (15%, rounded) for validation.
    assert len(split_rows(np.arange(170), seed=0)[1]) == 26
    assert [len(part) for part in split_rows(np.arange(2), seed=0)] == [1, 1]
    single = split_rows(np.arange(1), seed=0)
    assert list(single[0]) == list(single[1]) == [0]  # nothing to hold back


def test_early_stopping_keeps_the_lowest_validation_loss():
    stopper = EarlyStopping(patience=3)
    losses = [5.0, 3.0, 4.0, 2.0, 2.5, 2.1, 2.2, 1.0]
    improved, stopped_at = [], None
    for epoch, loss in enumerate(losses):
        improved.append(stopper.update(epoch, loss))
        if stopper.should_stop:
            stopped_at = epoch
            break
    assert improved == [True, True, False, True, False, False, False]
    assert (stopper.best_epoch, stopper.best_loss, stopped_at) == (3, 2.0, 6)


def test_training_returns_the_best_epochs_weights(tmp_path):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (40, 16, 16, 3), dtype=np.uint8)
    np.save(tmp_path / "pixels.npy", pixels)
    stored = np.load(tmp_path / "pixels.npy", mmap_mode="r")
    trained = train_autoencoder(stored, np.arange(40), TINY, progress=False)
    history = trained.history
    losses = history["validation_loss"]
    assert history["epochs_run"] == len(losses) == len(history["train_loss"]) <= TINY.epochs
    assert history["best_epoch"] == int(np.argmin(losses)) + 1
    assert (history["train_images"], history["validation_images"]) == (34, 6)
    _, held = split_rows(np.arange(40), TINY.seed)
    again = validation_loss(trained.model, stored, held, TINY.batch_size, torch.device("cpu"))
    assert again == pytest.approx(min(losses), rel=1e-4)


def test_crops_are_decoded_once_to_a_memory_map_and_streamed(tmp_path):
    groups = make_collection(str(tmp_path / "images"), groups=2, per_group=3, seed=2)
    paths = [str(tmp_path / "images" / p) for p in sorted(groups)]
    (tmp_path / "broken.jpg").write_text("not a JPEG")
    paths.insert(2, str(tmp_path / "broken.jpg"))
    pre = TINY.preprocessing()
    pixels, rows = decode_to_file(paths, pre, str(tmp_path / "px.npy"), workers=2)
    assert isinstance(pixels, np.memmap) and pixels.dtype == np.uint8
    assert pixels.shape == (7, 16, 16, 3) and list(rows) == [0, 1, 3, 4, 5, 6]
    assert np.array_equal(pixels[3], pre.model_input(paths[3]).pixels)
    shuffled = list(batches(pixels, rows, 4, np.random.default_rng(0)))
    assert [len(b) for b in shuffled] == [4, 2]
    seen = sorted(map(bytes, np.concatenate(shuffled)))
    assert seen == sorted(bytes(pixels[i]) for i in rows)  # every decoded image, once


def test_model_key_names_the_checkpoints_content(tmp_path):
    keys = set()
    for seed in (1, 2):
        path = tmp_path / f"ae-{seed}.pt"
        save_checkpoint(str(path), untrained(AutoencoderSettings(seed=seed)),
                        AutoencoderSettings(seed=seed), {})
        choice = choose(str(path), "cpu", "fp32", model="autoencoder")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        assert choice.model_key.startswith(f"autoencoder:file-sha256-{digest}:")
        assert choice.label == path.name and choice.backbone.dim == 512
        keys.add(choice.model_key)
    assert len(keys) == 2
    small = AutoencoderSettings(latent=64)
    assert (choose("none", "cpu", "fp32", model="autoencoder", autoencoder=small).model_key
            != choose("none", "cpu", "fp32", model="autoencoder").model_key)


def test_a_rerun_reuses_the_autoencoder_until_retrain(tmp_path, monkeypatch):
    """Same images: the same checkpoint; new images: the folder's latest; --retrain: new."""
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))
    trained = []

    def fake_training(files, settings, dest, **_):
        trained.append(len(files))
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest, "wb") as f:
            f.write(b"checkpoint %d" % len(trained))
        return TrainingReport(settings.as_dict(), {}, None, None)

    monkeypatch.setattr(train, "train_and_save", fake_training)
    root = tmp_path / "images"
    make_collection(str(root), groups=2, per_group=3, seed=2)

    def resolve(retrain=False):
        return weights.resolve(str(root), "imagenet", TINY, retrain=retrain,
                               device="cpu", workers=0, progress=False)

    first = resolve()
    assert first.trained_now and trained == [6]
    assert resolve().weights == first.weights and trained == [6]
    Image.new("RGB", (64, 48), "red").save(root / "new.jpg")
    later = resolve()
    assert later.weights == first.weights and not later.trained_now and trained == [6]
    fresh = resolve(retrain=True)
    assert fresh.trained_now and fresh.weights != first.weights and trained == [6, 7]
    assert resolve().weights == fresh.weights  # the latest for the folder from now on
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        weights.resolve(str(tmp_path / "empty"), "train", TINY, retrain=False,
                        device="cpu", workers=0, progress=False)


def test_the_untrained_architecture_rebuilds_its_input_shape():
    model = ConvAutoencoder(latent=8, image_size=32)
    x = torch.zeros(2, 3, 32, 32)
    assert model.encoder(x).shape == (2, 8) and model(x).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="multiple of 16"):
        ConvAutoencoder(latent=8, image_size=40)


@pytest.fixture
def small_collection(tmp_path):
    root = tmp_path / "images"
    make_collection(str(root), groups=4, per_group=6, seed=4)
    return root


def test_build_trains_indexes_stores_its_pictures_and_finds_an_upload(small_collection,
                                                                      tmp_path, monkeypatch):
    monkeypatch.setenv("SIMILAR_IMAGES_CACHE", str(tmp_path / "cache"))
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    result = run_build(small_collection, url, tmp_path / "t", "--model", "autoencoder",
                       "--epochs", 2, "--latent", 64, weights="train")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].startswith("indexed 24 images")
    checkpoints = [n for n in os.listdir(tmp_path / "cache") if n.endswith(".pt")]
    assert len(checkpoints) == 1
    client = create_app({"SQLALCHEMY_DATABASE_URI": url}).test_client()
    facts = client.get("/api/index").get_json()
    assert (facts["model"], facts["dim"], facts["weights"]) == ("autoencoder", 64,
                                                                checkpoints[0])
    page = client.get("/model").get_data(as_text=True)
    assert "Training on the collection" in page and "kept epoch" in page
    for name in ("loss", "reconstructions"):
        picture = client.get(f"/model/{name}.png")
        assert picture.status_code == 200 and picture.mimetype == "image/png"
        assert Image.open(io.BytesIO(picture.data)).format == "PNG"
    original = sorted(small_collection.rglob("*.jpg"))[5]
    with Image.open(original) as img:
        copy = io.BytesIO()
        img.resize((img.width * 3 // 4, img.height * 3 // 4)).save(copy, "JPEG", quality=80)
    found = client.post("/api/search", data={"image": (io.BytesIO(copy.getvalue()), "q.jpg")})
    assert found.status_code == 200, found.get_json()
    assert found.get_json()["results"][0]["path"] == str(original.relative_to(small_collection))

    again = run_build(small_collection, url, tmp_path / "t", "--model", "autoencoder",
                      "--epochs", 2, "--latent", 64, weights="train")
    assert again.returncode == 0, again.stderr
    assert "embedded 0, reused 24" in again.stdout  # the same autoencoder: nothing new
