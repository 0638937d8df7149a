import numpy as np
import pytest
import torch
from PIL import Image

from lswag_plugin.data import batch_fingerprint, default_batch, load_batch
from lswag_plugin.errors import BadData, DataUnavailable


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


def _fake_cifar10(root, monkeypatch, per_batch=4):
    """torchvision's CIFAR-10 layout (python pickles) with made-up images, its md5 list pointed at them."""
    import hashlib
    import pickle

    from torchvision.datasets import CIFAR10

    folder = root / CIFAR10.base_folder
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    md5 = {}
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for k, name in enumerate(names):
        entry = {
            "data": rng.integers(0, 256, size=(per_batch, 3 * 32 * 32), dtype=np.uint8),
            "labels": [(k * per_batch + i) % 10 for i in range(per_batch)],
        }
        (folder / name).write_bytes(pickle.dumps(entry))
    (folder / "batches.meta").write_bytes(
        pickle.dumps({"label_names": [str(i) for i in range(10)]})
    )
    for name in [*names, "batches.meta"]:
        md5[name] = hashlib.md5((folder / name).read_bytes()).hexdigest()
    monkeypatch.setattr(CIFAR10, "train_list", [[n, md5[n]] for n in names[:5]])
    monkeypatch.setattr(CIFAR10, "test_list", [["test_batch", md5["test_batch"]]])
    monkeypatch.setattr(CIFAR10, "meta", {**CIFAR10.meta, "md5": md5["batches.meta"]})
    return CIFAR10(str(root), train=True)


def test_cifar_name_loads_a_seeded_batch_of_the_training_split(tmp_path, monkeypatch):
    train = _fake_cifar10(tmp_path / "c", monkeypatch)
    x, y = load_batch(f"cifar10:{tmp_path / 'c'}", batch_size=6, seed=1)
    x2, y2 = load_batch(f"cifar10:{tmp_path / 'c'}", batch_size=6, seed=1, resolution=16)
    assert x.shape == (6, 3, 32, 32) and x2.shape == (6, 3, 16, 16) and torch.equal(y, y2)
    idx = np.sort(np.random.default_rng(1).choice(20, size=6, replace=False))
    assert y.tolist() == [train.targets[i] for i in idx]
    mean = torch.tensor([125.3, 123.0, 113.9]).view(1, 3, 1, 1)
    std = torch.tensor([63.0, 62.1, 66.7]).view(1, 3, 1, 1)
    raw = torch.from_numpy(train.data[idx]).permute(0, 3, 1, 2).float()
    torch.testing.assert_close(x, (raw / 255 - mean / 255) / (std / 255))
    monkeypatch.setenv("LSWAG_DATA_HOME", str(tmp_path))  # default folder: <data home>/cifar
    (tmp_path / "c").rename(tmp_path / "cifar")
    assert torch.equal(load_batch("cifar10", batch_size=6, seed=1)[1], y)


def test_cifar_offline_is_one_line_naming_the_fix(tmp_path, monkeypatch):
    from urllib.error import URLError

    import torchvision.datasets.cifar

    def offline(*args, **kwargs):
        raise URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.datasets.cifar, "download_and_extract_archive", offline)
    with pytest.raises(DataUnavailable) as info:
        load_batch(f"cifar100:{tmp_path}", batch_size=4)
    message = str(info.value)
    assert "\n" not in message and "cannot download CIFAR100 into" in message
    assert "--data cifar100:FOLDER" in message and "name resolution" in message
