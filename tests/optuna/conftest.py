"""Fixtures of the Optuna tests: tiny models, a batch, and a lower-is-better proxy."""

from __future__ import annotations

import optuna
import pytest
import torch
from torch import nn

optuna.logging.set_verbosity(optuna.logging.WARNING)


def conv_net(width: int, classes: int = 8) -> nn.Module:
    """A tiny CNN whose parameter count grows with ``width``."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(width, classes),
    )


def conv_params(width: int, classes: int = 8) -> int:
    return (27 * width + width) + (width * classes + classes)


@pytest.fixture(scope="session")
def tiny_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """8 real photographs (scikit-image), 8×8, 8 classes."""
    from lswag_plugin.data import default_batch

    return default_batch(8, resolution=8, seed=0)
