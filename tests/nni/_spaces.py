"""Tiny NNI model spaces for the tests: a user ModelSpace and one with failing candidates.

A module (not conftest) so that NNI's multi-process engine can import the classes in its trial processes.
"""

from __future__ import annotations

import warnings

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # NNI 3.0 does not know torch.nn.Buffer
    import nni
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace, MutableLinear, ParametrizedModule


class SmallSpace(ModelSpace):
    """3 convs × 2 activations × 2 poolings × 4 widths = 48 candidates, 8 classes, any input size."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = LayerChoice(
            [nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 5, padding=2), nn.Conv2d(3, 8, 1)],
            label="conv",
        )
        self.act = LayerChoice({"relu": nn.ReLU(), "gelu": nn.GELU()}, label="act")
        width = nni.choice("width", [4, 8, 16, 32])
        self.pool = LayerChoice(
            {"avg": nn.AdaptiveAvgPool2d(1), "max": nn.AdaptiveMaxPool2d(1)}, label="pool"
        )
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


class ZeroOut(nn.Module):
    """A candidate op whose output is all zeros (like a disconnected NB201 cell): NWOT is -inf."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x).mul(0.0)


class FailingSpace(ModelSpace):
    """5 candidates: two work, one has a -inf NWOT, one raises in forward, one outputs inf."""

    def __init__(self) -> None:
        super().__init__()
        self.op = LayerChoice(
            {
                "conv1": nn.Conv2d(3, 8, 1),
                "conv3": nn.Conv2d(3, 8, 3, padding=1),
                "zero": ZeroOut(),
                "broken": Broken(),
                "inf": NotFinite(),
            },
            label="op",
        )
        self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.op(x))


class TimmVisionTransformer(ParametrizedModule, VisionTransformer, wraps=VisionTransformer):
    """timm's ViT with NNI mutables accepted as constructor arguments."""


class TimmViTSpace(ModelSpace):
    """A timm ViT (32×32, patch 8) whose width, depth and MLP ratio are searched: 8 candidates."""

    def __init__(self) -> None:
        super().__init__()
        self.vit = TimmVisionTransformer(
            img_size=32,
            patch_size=8,
            num_classes=8,
            num_heads=2,
            embed_dim=nni.choice("embed_dim", [16, 32]),
            depth=nni.choice("depth", [1, 2]),
            mlp_ratio=nni.choice("mlp_ratio", [1.0, 2.0]),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.vit(x)
