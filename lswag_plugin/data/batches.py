"""Minibatches for scoring: from tensors, a DataLoader, a ``.npz`` file, an image folder, CIFAR or the default.

Every loader returns ``(x, y)``: ``x`` float32 ``(N, 3, H, W)`` normalised per channel, ``y`` int64. When a
source holds more images than asked for, a subset is drawn with the seed, so a (source, size, seed) triple
always gives the same batch.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from lswag_plugin.errors import BadBatch, BadData, DataUnavailable

__all__ = [
    "CIFAR_NAMES",
    "DEFAULT_DATA_ENV",
    "batch_fingerprint",
    "default_batch",
    "load_batch",
    "resize",
    "shared_data_dir",
]

DEFAULT_DATA_ENV = "LSWAG_DATA"
_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".tif", ".tiff", ".webp"}
# Colour photographs that scikit-image ships inside its wheel (no download).
_DEFAULT_PHOTOS = (
    "astronaut.png",
    "chelsea.png",
    "coffee.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
)

#: ``--data`` names of torchvision datasets (``NAME`` or ``NAME:ROOT``): the torchvision class, and the
#: per-channel mean and std (×255) of the training split that NB201 normalises with.
CIFAR_NAMES = {
    "cifar10": ("CIFAR10", (125.3, 123.0, 113.9), (63.0, 62.1, 66.7)),
    "cifar100": ("CIFAR100", (129.3, 124.1, 112.4), (68.2, 65.4, 70.4)),
}
_CIFAR_SPEC = re.compile(r"^(cifar10|cifar100)(?::(.+))?$")


def shared_data_dir(path: str | os.PathLike[str] | None = None) -> Path:
    """Returns the ground-truth data folder: ``path``, else ``$LSWAG_DATA``, else ``../shared/data``."""
    if path is not None:
        return Path(path)
    env = os.environ.get(DEFAULT_DATA_ENV)
    return Path(env) if env else Path("../shared/data")


def _normalise(x: torch.Tensor) -> torch.Tensor:
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    std = x.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    return (x - mean) / std


def _from_uint8_hwc(images: np.ndarray) -> torch.Tensor:
    if images.ndim == 3:  # grey images
        images = np.repeat(images[..., None], 3, axis=-1)
    if images.ndim != 4 or images.shape[-1] not in (1, 3, 4):
        raise BadData(f"expected images shaped (N, H, W, 3), got {images.shape}")
    images = images[..., :3] if images.shape[-1] != 1 else np.repeat(images, 3, axis=-1)
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return x


def resize(x: torch.Tensor, resolution: int | None) -> torch.Tensor:
    """Returns ``x`` resized (bilinear, antialiased) to ``resolution × resolution``, or ``x`` itself."""
    if resolution is None or tuple(x.shape[-2:]) == (resolution, resolution):
        return x
    return F.interpolate(
        x, size=(resolution, resolution), mode="bilinear", antialias=True, align_corners=False
    )


def _subset(n: int, batch_size: int | None, seed: int) -> np.ndarray:
    if batch_size is None or batch_size >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=batch_size, replace=False))


def _load_npz(path: Path, batch_size: int | None, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        with np.load(path) as d:
            if "x" not in d:
                raise BadData(
                    f"{path}: a .npz batch needs arrays 'x' (N,H,W,3 uint8) and 'y'; found {list(d)}"
                )
            images, labels = d["x"], d["y"] if "y" in d else np.zeros(len(d["x"]), dtype=np.int64)
    except (OSError, ValueError) as exc:
        raise BadData(f"cannot read {path}: {exc}") from exc
    if images.dtype != np.uint8:
        raise BadData(f"{path}: 'x' must be uint8 images (N,H,W,3), got dtype {images.dtype}")
    x_all = _normalise(
        _from_uint8_hwc(images)
    )  # statistics of the whole file: independent of the subset
    idx = _subset(len(images), batch_size, seed)
    return x_all[idx], torch.as_tensor(labels[idx], dtype=torch.int64)


def _load_folder(
    path: Path, batch_size: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    from PIL import Image

    classes = sorted(p for p in path.iterdir() if p.is_dir())
    if not classes:
        raise BadData(
            f"{path}: an image folder needs one sub-folder per class (like torchvision's ImageFolder)"
        )
    files: list[tuple[Path, int]] = []
    for label, folder in enumerate(classes):
        files += [
            (f, label) for f in sorted(folder.rglob("*")) if f.suffix.lower() in _IMAGE_SUFFIXES
        ]
    if not files:
        raise BadData(
            f"{path}: no images ({', '.join(sorted(_IMAGE_SUFFIXES))}) under its class folders"
        )
    idx = _subset(len(files), batch_size, seed)
    chosen = [files[i] for i in idx]
    size = None
    arrays = []
    for f, _ in chosen:
        img = Image.open(f).convert("RGB")
        size = size or img.size
        arrays.append(np.asarray(img.resize(size)))
    x = _normalise(_from_uint8_hwc(np.stack(arrays)))
    return x, torch.tensor([lab for _, lab in chosen], dtype=torch.int64)


def _load_iterable(
    loader: Iterable[Any], batch_size: int | None
) -> tuple[torch.Tensor, torch.Tensor]:
    xs, ys, n = [], [], 0
    for item in loader:
        if not (isinstance(item, list | tuple) and len(item) >= 2):
            raise BadData("a DataLoader must yield (inputs, labels) pairs")
        xs.append(torch.as_tensor(item[0]))
        ys.append(torch.as_tensor(item[1]))
        n += len(xs[-1])
        if batch_size is not None and n >= batch_size:
            break
    if not xs:
        raise BadData("the DataLoader yielded no batch (is the dataset empty?)")
    x, y = torch.cat(xs), torch.cat(ys)
    if batch_size is not None:
        x, y = x[:batch_size], y[:batch_size]
    return x, y


def _load_cifar(
    name: str, root: str | None, batch_size: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch of the CIFAR training split, through torchvision's dataset class (its download
    and md5 check), normalised with the split's per-channel statistics."""
    from urllib.error import URLError

    import torchvision.datasets

    from lswag_plugin.data.store import data_home

    class_name, mean, std = CIFAR_NAMES[name]
    dataset_class = getattr(torchvision.datasets, class_name)
    folder = Path(root).expanduser() if root else data_home() / "cifar"
    try:
        dataset = dataset_class(str(folder), train=True, download=False)
    except RuntimeError:  # not there (or corrupted): torchvision downloads and checks its md5
        try:
            dataset = dataset_class(str(folder), train=True, download=True)
        except (URLError, OSError, RuntimeError) as exc:
            reason = " ".join(str(getattr(exc, "reason", exc)).split())[:160]
            raise DataUnavailable(
                f"cannot download {class_name} into {folder} ({type(exc).__name__}: {reason}): "
                f"connect to the internet once, or extract torchvision's {class_name} files there "
                f"(pass --data {name}:FOLDER to use another folder), or pass a .npz batch or an "
                "image folder"
            ) from exc
    images = np.asarray(dataset.data)
    idx = _subset(len(images), batch_size, seed)
    x = _from_uint8_hwc(images[idx])
    x = (x - torch.tensor(mean).view(1, 3, 1, 1) / 255) / (torch.tensor(std).view(1, 3, 1, 1) / 255)
    return x, torch.as_tensor(np.asarray(dataset.targets)[idx], dtype=torch.int64)


def default_batch(
    batch_size: int = 64, *, resolution: int = 32, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns a batch of real photographs shipped by scikit-image, cut into ``resolution``² crops.

    The label of a crop is the index of the photograph it comes from (8 classes). No download.

    Example:
        >>> x, y = default_batch(16, resolution=32)
        >>> tuple(x.shape), int(y.max()) < 8
        ((16, 3, 32, 32), True)
    """
    import skimage
    from PIL import Image

    folder = Path(skimage.__file__).parent / "data"
    rng = np.random.default_rng(seed)
    crops, labels = [], []
    photos = []
    for name in _DEFAULT_PHOTOS:
        img = Image.open(folder / name).convert("RGB")
        scale = (
            4 * resolution / min(img.size)
        )  # keep objects visible: a crop spans ~1/4 of the photo
        img = img.resize(
            (
                max(resolution, round(img.size[0] * scale)),
                max(resolution, round(img.size[1] * scale)),
            )
        )
        photos.append(np.asarray(img))
    for i in range(batch_size):
        label = i % len(photos)
        photo = photos[label]
        top = int(rng.integers(0, photo.shape[0] - resolution + 1))
        left = int(rng.integers(0, photo.shape[1] - resolution + 1))
        crops.append(photo[top : top + resolution, left : left + resolution])
        labels.append(label)
    x = _normalise(_from_uint8_hwc(np.stack(crops)))
    return x, torch.tensor(labels, dtype=torch.int64)


def load_batch(
    data: Any,
    *,
    batch_size: int | None = 64,
    seed: int = 0,
    resolution: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns ``(x, y)`` from any supported source.

    Args:
        data: ``(x, y)`` tensors; a DataLoader or any iterable of ``(x, y)``; a path to a ``.npz`` file with
            ``x`` (N,H,W,3 uint8) and ``y``; a path to an image folder with one sub-folder per class;
            ``"cifar10"`` or ``"cifar100"`` (``"cifar10:ROOT"``: kept in ROOT, default
            ``<data home>/cifar``) for a seeded batch of the training split, downloaded and checked by
            torchvision on first use (a path of that name wins); or ``None``/``"default"`` for the
            photographs shipped by scikit-image.
        batch_size: Samples to draw (a seeded subset of larger sources); None keeps them all.
        seed: Seed of the subset.
        resolution: Resize to this square size (None keeps the source's).

    Raises:
        BadData: The path does not exist or cannot be read as a batch.
        DataUnavailable: CIFAR is not on disk and cannot be downloaded (no network).
    """
    cifar = _CIFAR_SPEC.match(data) if isinstance(data, str) and not Path(data).exists() else None
    if data is None or (isinstance(data, str) and data == "default"):
        x, y = default_batch(batch_size or 64, resolution=resolution or 32, seed=seed)
    elif cifar is not None:
        x, y = _load_cifar(cifar.group(1), cifar.group(2), batch_size, seed)
    elif isinstance(data, str | os.PathLike):
        path = Path(data)
        if not path.exists():
            raise BadData(
                f"data path {str(path)!r} does not exist (a .npz batch, an image folder, or cifar10 / "
                "cifar100: a seeded batch of the training split, downloaded by torchvision)"
            )
        if path.is_dir():
            x, y = _load_folder(path, batch_size, seed)
        elif path.suffix == ".npz":
            x, y = _load_npz(path, batch_size, seed)
        else:
            raise BadData(f"{path}: expected a .npz file or an image folder")
    elif (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
    ):
        x, y = data
        idx = torch.as_tensor(_subset(len(x), batch_size, seed))
        x, y = (x, y) if len(idx) == len(x) else (x[idx], y[idx])
    elif isinstance(data, Iterable):
        x, y = _load_iterable(data, batch_size)
    else:
        raise BadData(
            f"cannot make a batch from {type(data).__name__}; pass (x, y), a DataLoader or a path"
        )
    if len(x) != len(y):
        raise BadBatch(f"inputs and labels differ in length ({len(x)} vs {len(y)})")
    return resize(x, resolution) if x.dim() == 4 else x, y


def batch_fingerprint(x: torch.Tensor, y: torch.Tensor) -> str:
    """Returns a short content hash of a batch (for cache keys)."""
    h = hashlib.sha256()
    h.update(str((tuple(x.shape), str(x.dtype))).encode())
    h.update(x.detach().cpu().contiguous().numpy().tobytes())
    h.update(y.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]
