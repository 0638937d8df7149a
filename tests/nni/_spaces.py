"""Tiny NNI model spaces for the tests: a user ModelSpace and one with failing candidates.

A module (not conftest) so that NNI's multi-process engine can import the classes in its trial processes.
"""

from __future__ import annotations

import warnings

import torch
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # NNI 3.0 does not know torch.nn.Buffer
    import nni
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace, MutableLinear


class SmallSpace(ModelSpace):
    """3 convs × 2 activations × 3 widths = 18 candidates, 8 classes, any input size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = LayerChoice(
            [nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 5, padding=2), nn.Conv2d(3, 8, 1)],
            label="conv",
        )
        self.act = LayerChoice({"relu": nn.ReLU(), "gelu": nn.GELU()}, label="act")
        width = nni.choice("width", [4, 8, 16])
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = MutableLinear(8, width)
        self.act2 = nn.ReLU()
        self.fc2 = MutableLinear(width, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.act(self.conv(x))).flatten(1)
        return self.fc2(self.act2(self.fc1(x)))


class Broken(nn.Module):
    """A candidate op whose forward raises (e.g. a shape bug in a user's op)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("this op is broken on purpose")


class NotFinite(nn.Module):
    """A candidate op that produces inf (a numerically unstable op)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x) * float("inf")


class FailingSpace(ModelSpace):
    """4 candidates: two work, one raises in forward, one outputs inf."""

    def __init__(self) -> None:
        super().__init__()
        self.op = LayerChoice(
            {
                "conv1": nn.Conv2d(3, 8, 1),
                "conv3": nn.Conv2d(3, 8, 3, padding=1),
                "broken": Broken(),
                "inf": NotFinite(),
            },
            label="op",
        )
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.op(x))
