"""scripts/demo_photos.py --held-back-from: families of a folder's own pictures."""
import numpy as np
from PIL import Image

from scripts.demo_photos import HELD_BACK_EDITS, colours, make_families_from
from samples.pictures import photographs


def cut_out(photo: Image.Image) -> Image.Image:
    """Return the photograph as a cut-out: opaque in a disc, transparent around it."""
    rgba = photo.convert("RGBA").resize((200, 200))
    yy, xx = np.mgrid[:200, :200]
    alpha = np.where((yy - 100) ** 2 + (xx - 100) ** 2 < 80 ** 2, 255, 0).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha))
    return rgba


def test_each_photograph_of_a_folder_becomes_a_family_of_ten(tmp_path):
    source = tmp_path / "source"
    (source / "animals").mkdir(parents=True)
    photos = photographs(("chelsea", "coffee", "astronaut"))
    cut_out(photos["chelsea"]).save(source / "animals" / "cat.png")
    photos["coffee"].save(source / "coffee.jpg")
    photos["astronaut"].save(source / "zz-astronaut.jpg")
    Image.new("RGB", (200, 200), "red").save(source / "drawing.png")  # one colour
    (source / "notes.txt").write_text("not a picture")

    members = make_families_from(str(tmp_path / "families"), str(source), min_colours=500)

    families = sorted(set(members.values()))
    assert families == ["animals-cat", "coffee", "zz-astronaut"]  # no drawing, no text
    files = {path.name for path in (tmp_path / "families" / "coffee").iterdir()}
    assert files == {"original.jpg", "exif-rotated.jpg", *(f"{e}.jpg" for e in HELD_BACK_EDITS)}
    assert len(members) == 30
    # The cut-out's transparent corner is white, not black.
    cat = Image.open(tmp_path / "families" / "animals-cat" / "original.jpg").convert("RGB")
    assert min(cat.getpixel((2, 2))) >= 245
    assert colours(cat) >= 500


def test_a_limit_spreads_the_families_over_the_folder(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    photo = photographs(("coffee",))["coffee"]
    for i in range(9):
        photo.rotate(10 * i).save(source / f"{i}.jpg")
    members = make_families_from(str(tmp_path / "families"), str(source), limit=3)
    assert sorted(set(members.values())) == ["0", "4", "8"]  # first, middle, last
