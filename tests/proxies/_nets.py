"""Tiny networks shared by the proxy tests (hand-checkable weights, a small CNN, a small ViT)."""

from __future__ import annotations

import torch
from torch import nn


def linear_net(weight: list[list[float]], bias: list[float] | None = None) -> nn.Module:
    """ReLU → Linear with the given weights (the ReLU passes non-negative inputs unchanged)."""
    lin = nn.Linear(len(weight[0]), len(weight), bias=bias is not None)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(weight))
        if bias is not None:
            lin.bias.copy_(torch.tensor(bias))
    return nn.Sequential(nn.ReLU(), lin)


def sum_loss(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """loss = Σ outputs: ∂loss/∂W of a linear layer is Σ_i x_i (hand-checkable)."""
    return out.sum()


def tiny_cnn(num_classes: int = 8) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, stride=2),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, num_classes),
    )


def tiny_vit(num_classes: int = 8) -> nn.Module:
    import timm

    torch.manual_seed(0)
    return timm.create_model("test_vit", img_size=32, patch_size=8, num_classes=num_classes)
