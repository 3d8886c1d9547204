"""The reader: batches come back in order, failures are carried, a dead worker fails the run."""
import os
from concurrent.futures.process import BrokenProcessPool

import numpy as np
import pytest
from PIL import Image

from core.hashing import file_digest
from core.imaging import Preprocessing
from indexer.read import embed_files


class MeanColour:
    """A stand-in model: the mean colour of each crop (what the reader does is under test)."""
    preprocessing = Preprocessing(64, 56, (0.5,) * 3, (0.5,) * 3)

    def __init__(self, in_workers: bool, die: bool = False):
        self.embeds_in_workers, self.die = in_workers, die

    def for_workers(self, workers):
        return self

    def features(self, pixels):
        if self.die:
            os._exit(1)  # as the OOM killer or a native crash would end a worker
        return pixels.reshape(len(pixels), -1, 3).mean(axis=1).astype(np.float32)


@pytest.fixture
def items(tmp_path):
    rows = []
    for i in range(23):
        path = tmp_path / f"{i:02d}.jpg"
        if i == 7:
            path.write_bytes(b"not an image")
        else:
            Image.new("RGB", (80, 60), (i * 10, 255 - i * 10, 40)).save(path)
        rows.append((str(path), file_digest(str(path))[1]))  # decoding checks the hash
    return rows


@pytest.mark.parametrize("workers,in_workers", [(0, False), (2, False), (2, True), (3, True)])
def test_batches_come_back_in_order_with_failures_carried(items, workers, in_workers):
    batches = list(embed_files(MeanColour(in_workers), items, batch_size=5, workers=workers,
                               thumbnail_dir=None))
    outcomes = [o for batch, _ in batches for o in batch]
    assert [o.index for o in outcomes] == list(range(23))
    assert [o.index for o in outcomes if o.error] == [7]
    assert "UnidentifiedImageError" in outcomes[7].error
    vectors = np.concatenate([v for _, v in batches if len(v)])
    red = [i * 10 for i in range(23) if i != 7]
    np.testing.assert_allclose(vectors[:, 0], red, atol=2)  # JPEG rounding
    assert all(o.width == 80 and o.height == 60 for o in outcomes if not o.error)


def test_a_worker_that_dies_fails_the_run_instead_of_hanging_it(items):
    with pytest.raises(BrokenProcessPool):
        list(embed_files(MeanColour(True, die=True), items, batch_size=5, workers=2,
                         thumbnail_dir=None))
