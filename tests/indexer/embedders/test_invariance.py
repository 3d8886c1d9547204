"""--invariance: embeddings averaged over flips and quarter turns find turned copies."""
import io

import pytest
import torch
from PIL import Image

from tests.support.commands import run_build
from scripts.demo_photos import TURNED_EDITS, make_turned
from webapp import create_app
from indexer.embedders.calibration import EDITS, edits_for
from indexer.embedders.choice import choose
from indexer.embedders.networks import ViewAverage, dihedral_views
from indexer.embedders.registry import OFFLINE_MODEL

COPIES = len(TURNED_EDITS)  # each photograph's seven flips and quarter turns


def tiny_network() -> torch.nn.Module:
    """A network that sees orientation: a convolution, then the mean of each channel."""
    torch.manual_seed(0)
    conv = torch.nn.Conv2d(3, 8, 3)
    return torch.nn.Sequential(conv, torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                               torch.nn.Flatten()).eval()


def test_the_eight_views_are_the_dihedral_group():
    x = torch.arange(2 * 3 * 5 * 5, dtype=torch.float32).view(2, 3, 5, 5)
    views = dihedral_views(x, 8)
    assert len({tuple(v.flatten().tolist()) for v in views}) == 8
    assert torch.equal(views[1], x.flip(3))
    turned = x.rot90(1, (2, 3))
    # The views of a quarter-turned image are the image's views in another order.
    assert ({tuple(v.flatten().tolist()) for v in dihedral_views(turned, 8)}
            == {tuple(v.flatten().tolist()) for v in views})
    assert len(dihedral_views(x, 2)) == 2


@pytest.mark.parametrize("invariance,same_for", [
    ("mirror", [lambda x: x.flip(3)]),
    ("dihedral", [lambda x: x.flip(3), lambda x: x.flip(2), lambda x: x.rot90(1, (2, 3)),
                  lambda x: x.rot90(2, (2, 3)), lambda x: x.transpose(2, 3)]),
])
def test_the_average_is_the_same_for_every_turned_copy(invariance, same_for):
    network = tiny_network()
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    model = ViewAverage(network, invariance)
    with torch.inference_mode():
        plain = model(x)
        for change in same_for:
            # Equal up to the order the views are summed in.
            assert torch.allclose(model(change(x)), plain, atol=1e-6)
        assert not torch.allclose(network(x.rot90(1, (2, 3))), network(x), atol=1e-3)
        if invariance == "mirror":  # a mirror average still tells a quarter turn apart
            assert not torch.allclose(model(x.rot90(1, (2, 3))), plain, atol=1e-3)


def test_invariance_is_part_of_the_model_key_and_the_calibration():
    plain = choose("none", "cpu", "fp32")
    turned = choose("none", "cpu", "fp32", invariance="dihedral")
    assert ":dihedral:" in turned.model_key and turned.model_key != plain.model_key
    assert "dihedral" not in plain.model_key and "mirror" not in plain.model_key
    assert choose("none", "cpu", "fp32", invariance="none").model_key == plain.model_key
    with pytest.raises(ValueError, match="invariance"):
        choose("none", "cpu", invariance="rotate")
    assert edits_for("none") == EDITS
    assert set(edits_for("mirror")) - set(EDITS) == {"mirrored"}
    assert len(set(edits_for("dihedral")) - set(EDITS)) == 6


@pytest.fixture(scope="module")
def turned_index(tmp_path_factory):
    """The photographs with their turned copies, indexed with Lite0 and --invariance dihedral.

    The calibration never sees these photographs (it draws its own pictures): held back.
    """
    folder = tmp_path_factory.mktemp("turned")
    families = make_turned(str(folder / "images"))
    url = f"sqlite:///{folder / 'index.sqlite3'}"
    result = run_build(folder / "images", url, folder / "thumbs", "--k", COPIES,
                       "--model", OFFLINE_MODEL, "--invariance", "dihedral", weights="imagenet")
    assert result.returncode == 0, result.stderr
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "THUMBNAIL_DIR": str(folder / "thumbs")})
    return app.test_client(), families, folder / "images"


def test_turned_copies_are_each_photos_top_matches_all_near_duplicates(turned_index):
    client, families, _ = turned_index
    images = client.get("/api/images?per_page=500").get_json()["images"]
    assert len(images) == len(families) == len(set(families.values())) * (COPIES + 1)
    for image in images:
        similar = client.get(f"/api/images/{image['id']}").get_json()["similar"]
        assert {families[s["path"]] for s in similar} == {families[image["path"]]}, image
        assert {s["tier"] for s in similar} == {"near-duplicate"}, image
    facts = client.get("/api/index").get_json()
    assert (facts["model"], facts["invariance"]) == (OFFLINE_MODEL, "dihedral")


def test_one_duplicate_group_per_photograph(turned_index):
    client, families, _ = turned_index
    body = client.get("/api/duplicates?per_page=100").get_json()
    assert body["total"] == len(set(families.values()))
    for group in body["groups"]:
        assert group["size"] == COPIES + 1
        assert len({families[i["path"]] for i in group["images"]}) == 1


def test_search_by_a_turned_upload_averages_the_same_views(turned_index):
    client, families, root = turned_index
    photo = Image.open(root / "chelsea" / "original.jpg")
    upload = io.BytesIO()
    photo.rotate(90, expand=True).save(upload, "JPEG", quality=85)
    response = client.post("/api/search", data={"image": (io.BytesIO(upload.getvalue()),
                                                          "turned.jpg")})
    results = response.get_json()["results"]
    assert {families[r["path"]] for r in results} == {"chelsea"}
    assert {r["tier"] for r in results} == {"near-duplicate"}
