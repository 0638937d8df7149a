"""Shared fixtures: the ground-truth data folder (skipped when absent), small batches, isolation."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from lswag_plugin.data import shared_data_dir


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The ../shared/data folder (or $LSWAG_DATA); tests that need it skip when it is absent."""
    path = shared_data_dir()
    if not (path / "nb201" / "nb201_accuracy.csv").exists():
        pytest.skip(
            f"ground-truth data not found at {path.resolve()} (set LSWAG_DATA to ../shared/data)"
        )
    return path


@pytest.fixture(scope="session")
def cifar10_batch(data_dir: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """64 real CIFAR-10 images (seed 0) from ../shared/data."""
    from lswag_plugin.data import load_batch

    return load_batch(data_dir / "images" / "cifar10_sample.npz", batch_size=64, seed=0)


@pytest.fixture()
def small_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """16 real photographs (scikit-image), 32×32, 8 classes."""
    from lswag_plugin.data import default_batch

    return default_batch(16, resolution=32, seed=0)


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Caches and host frameworks (NNI writes under ~) write into a temporary folder, never the user's."""
    home = tmp_path_factory.getbasetemp() / "home"
    home.mkdir(exist_ok=True)
    monkeypatch.setenv("LSWAG_CACHE_DIR", str(home / "lswag-cache"))
    if os.environ.get("LSWAG_TEST_KEEP_HOME") != "1":
        monkeypatch.setenv("HOME", str(home))


@pytest.fixture()
def min_proxy(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers ``test_min_params`` (#params, lower is better) for this test only (shared by the Optuna and NNI tests)."""
    from lswag_plugin.engine import registry
    from lswag_plugin.engine.registry import Needs, register_proxy

    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_proxy("test_min_params", direction="min", needs=Needs.NOTHING)
    def test_min_params(ctx) -> float:
        return float(sum(p.numel() for p in ctx.source_model.parameters()))

    return "test_min_params"
