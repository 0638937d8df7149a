import numpy as np
import pytest
import torch
from PIL import Image

from lswag_plugin.data import batch_fingerprint, default_batch, load_batch
from lswag_plugin.errors import BadData


def test_default_batch_is_deterministic_real_photos():
    x1, y1 = default_batch(16, resolution=32, seed=3)
    x2, y2 = default_batch(16, resolution=32, seed=3)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (16, 3, 32, 32) and y1.tolist() == [i % 8 for i in range(16)]
    assert float(x1.std()) > 0.5  # normalised photos, not constant


def test_npz_subset_by_seed(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "b.npz"
    np.savez(path, x=rng.integers(0, 256, size=(20, 8, 8, 3), dtype=np.uint8), y=np.arange(20))
    x, y = load_batch(path, batch_size=6, seed=1)
    x2, y2 = load_batch(str(path), batch_size=6, seed=1)
    assert x.shape == (6, 3, 8, 8) and torch.equal(y, y2) and torch.equal(x, x2)
    assert len(set(y.tolist())) == 6
    assert load_batch(path, batch_size=6, seed=1, resolution=16)[0].shape == (6, 3, 16, 16)


def test_image_folder(tmp_path):
    for label in ("cat", "dog"):
        (tmp_path / label).mkdir()
        for i in range(3):
            Image.fromarray(np.full((10, 10, 3), 40 * i, dtype=np.uint8)).save(
                tmp_path / label / f"{i}.png"
            )
    x, y = load_batch(tmp_path, batch_size=None)
    assert x.shape == (6, 3, 10, 10) and sorted(y.tolist()) == [0, 0, 0, 1, 1, 1]


def test_loader_and_tensors():
    data = [(torch.randn(4, 3, 8, 8), torch.arange(4)) for _ in range(3)]
    x, y = load_batch(data, batch_size=10)
    assert x.shape[0] == 10 and y.tolist() == [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]
    x, y = load_batch((torch.randn(5, 3, 8, 8), torch.arange(5)), batch_size=None)
    assert x.shape[0] == 5


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("/nonexistent/batch.npz", "does not exist"),
        ([], "yielded no batch"),
        (3.5, "cannot make a batch"),
    ],
)
def test_bad_sources(source, message):
    with pytest.raises(BadData, match=message):
        load_batch(source)


def test_fingerprint_changes_with_content():
    x, y = default_batch(8, seed=0)
    assert batch_fingerprint(x, y) == batch_fingerprint(x.clone(), y.clone())
    assert batch_fingerprint(x, y) != batch_fingerprint(x + 1, y)
