"""Atlas sheets: every image's picture in its cell, sheets reused when nothing changed."""
import hashlib
import os

import numpy as np
import pytest
from PIL import Image

from core.imaging import save_thumbnail, thumbnail_name
from indexer.explore import atlases
from samples.pictures import photographs


@pytest.fixture(scope="module")
def thumbnails(tmp_path_factory):
    """300 thumbnails of real photographs (each photograph under several content hashes)."""
    folder = tmp_path_factory.mktemp("thumbnails")
    photos = list(photographs().values())
    hashes = [hashlib.md5(str(i).encode()).hexdigest() for i in range(300)]
    for i, content_hash in enumerate(hashes):
        save_thumbnail(photos[i % len(photos)], str(folder), content_hash)
    return folder, hashes, photos


def cell_of(folder, made: atlases.Atlases, image: int) -> np.ndarray:
    per_sheet = atlases.COLUMNS ** 2
    sheet, within = divmod(int(made.slots[image]), per_sheet)
    with Image.open(os.path.join(folder, made.sheets[sheet])) as picture:
        x, y = (within % atlases.COLUMNS) * atlases.CELL, (within // atlases.COLUMNS) * atlases.CELL
        return np.asarray(picture.convert("RGB").crop((x, y, x + atlases.CELL, y + atlases.CELL)),
                          dtype=np.float32)


def test_each_image_is_in_its_own_cell_of_a_sheet(thumbnails):
    folder, hashes, photos = thumbnails
    places = np.random.default_rng(0).random((len(hashes), 2)).astype(np.float32)
    levels = np.random.default_rng(1).integers(0, 8, len(hashes))
    made = atlases.write_atlases(str(folder), hashes, places, levels)
    assert len(made.sheets) == made.written == 2  # 300 pictures, 256 a sheet
    assert sorted(made.slots) == list(range(len(hashes)))
    # The coarsest levels come first: the overview's pictures share the first sheet.
    assert (np.diff(levels[np.argsort(made.slots)]) >= 0).all()
    for image in (0, 1, 16, 299):
        expected = np.asarray(atlases.square(os.path.join(folder, thumbnail_name(hashes[image]))),
                              dtype=np.float32)
        others = [np.abs(cell_of(folder, made, image) - np.asarray(
            photos[(image + 1) % len(photos)].resize((64, 64)), dtype=np.float32)).mean()]
        error = np.abs(cell_of(folder, made, image) - expected).mean()
        assert error < 6 < min(others)  # its own picture (JPEG's loss aside), not another


def test_a_second_run_with_the_same_pictures_writes_nothing(thumbnails):
    folder, hashes, _ = thumbnails
    places = np.random.default_rng(2).random((len(hashes), 2)).astype(np.float32)
    levels = np.zeros(len(hashes), dtype=np.int16)
    first = atlases.write_atlases(str(folder), hashes, places, levels)
    sheet = os.path.join(folder, first.sheets[0])
    written_at = os.stat(sheet).st_mtime_ns
    again = atlases.write_atlases(str(folder), hashes, places, levels)
    assert (again.sheets, again.written) == (first.sheets, 0)
    assert (again.slots == first.slots).all() and os.stat(sheet).st_mtime_ns == written_at
    # The last sheet's last image gone: that sheet holds other members, so it has another
    # name and is written; the first is the same and is not.
    kept = np.arange(len(hashes)) != np.argmax(first.slots)
    fewer = atlases.write_atlases(str(folder), [h for h, k in zip(hashes, kept) if k],
                                  places[kept], levels[kept])
    assert fewer.written == 1 and fewer.sheets[0] == first.sheets[0]
    assert fewer.sheets[1] != first.sheets[1]


def test_sheets_go_under_an_s3_prefix_and_are_found_there_again(thumbnails):
    from tests.support.s3_server import keys, running_s3, upload_folder
    folder, hashes, _ = thumbnails
    places = np.random.default_rng(3).random((len(hashes), 2)).astype(np.float32)
    levels = np.zeros(len(hashes), dtype=np.int16)
    with running_s3() as client:
        client.create_bucket(Bucket="thumbs")
        upload_folder(client, folder, "thumbs", "t")
        made = atlases.write_atlases("s3://thumbs/t", hashes, places, levels)
        assert made.written == 2
        # (Beside the sheets of the other tests, uploaded with the thumbnails.)
        assert {f"t/{name}" for name in made.sheets} <= set(keys(client, "thumbs", "t/atlases/"))
        body = client.get_object(Bucket="thumbs", Key=f"t/{made.sheets[0]}")["Body"].read()
        assert body[:2] == b"\xff\xd8"
        again = atlases.write_atlases("s3://thumbs/t", hashes, places, levels)
        assert (again.sheets, again.written) == (made.sheets, 0)
