"""Property tests: random small CNNs and ViTs → scoring raises nothing but LswagError subclasses, leaves
the model bit-identical, and gives the same scores twice for a fixed seed."""

from __future__ import annotations

import math
import warnings

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import lswag_plugin
from lswag_plugin.errors import LswagError
from tests.reliability._snapshot import assert_untouched, snapshot

PROXIES = "lswag,nwot,swap,zico,snip,synflow,jacov,params"
ACTIVATIONS = {
    "relu": lambda: nn.ReLU(),
    "relu_inplace": lambda: nn.ReLU(inplace=True),
    "gelu": lambda: nn.GELU(),
    "silu": lambda: nn.SiLU(),
    "leaky": lambda: nn.LeakyReLU(0.1),
}
SETTINGS = settings(
    max_examples=15,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@st.composite
def cnns(draw: st.DrawFn) -> tuple[nn.Module, int]:
    """A random CNN: 1–3 conv blocks (width, kernel, stride, BN, activation), a pool and a head."""
    torch.manual_seed(draw(st.integers(0, 2**16)))
    layers: list[nn.Module] = []
    c = 3
    for _ in range(draw(st.integers(1, 3))):
        width = draw(st.sampled_from([2, 4, 8]))
        kernel = draw(st.sampled_from([1, 3]))
        layers.append(
            nn.Conv2d(c, width, kernel, stride=draw(st.sampled_from([1, 2])), padding=kernel // 2)
        )
        if draw(st.booleans()):
            layers.append(nn.BatchNorm2d(width))
        layers.append(ACTIVATIONS[draw(st.sampled_from(sorted(ACTIVATIONS)))]())
        c = width
    pool = nn.AdaptiveAvgPool2d(1) if draw(st.booleans()) else nn.AdaptiveMaxPool2d(1)
    classes = draw(st.sampled_from([2, 4]))
    return nn.Sequential(*layers, pool, nn.Flatten(), nn.Linear(c, classes)), classes


@st.composite
def vits(draw: st.DrawFn) -> tuple[nn.Module, int]:
    """A random timm ViT on 8×8 inputs: patch 4 or 8, width, depth, heads, MLP ratio, pooling."""
    from timm.models.vision_transformer import VisionTransformer

    torch.manual_seed(draw(st.integers(0, 2**16)))
    heads = draw(st.sampled_from([1, 2]))
    classes = draw(st.sampled_from([2, 4]))
    net = VisionTransformer(
        img_size=8,
        patch_size=draw(st.sampled_from([4, 8])),
        num_classes=classes,
        embed_dim=heads * draw(st.sampled_from([4, 8])),
        depth=draw(st.integers(1, 2)),
        num_heads=heads,
        mlp_ratio=draw(st.sampled_from([1.0, 2.0])),
        global_pool=draw(st.sampled_from(["token", "avg"])),
    )
    return net, classes


def _scores_or_error(net: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict | str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            s = lswag_plugin.score(net, (x, y), PROXIES, device="cpu", seed=3)
        except LswagError as exc:  # the only exceptions allowed
            return f"{type(exc).__name__}: {exc}"
    return {k: s[k] for k in s}


def _same(a: dict | str, b: dict | str) -> bool:
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    return a.keys() == b.keys() and all(
        (math.isnan(a[k]) and math.isnan(b[k])) or a[k] == b[k] for k in a
    )


def _check(net: nn.Module, classes: int, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    x, y = torch.randn(8, 3, 8, 8, generator=g), torch.arange(8) % classes
    before = snapshot(net)
    first = _scores_or_error(net, x, y)
    assert_untouched(net, before)
    second = _scores_or_error(net, x, y)
    assert _same(first, second), (first, second)


@SETTINGS
@given(model=cnns(), seed=st.integers(0, 100))
def test_random_cnns_score_typed_untouched_and_deterministic(model, seed: int) -> None:
    _check(*model, seed)


@SETTINGS
@given(model=vits(), seed=st.integers(0, 100))
def test_random_vits_score_typed_untouched_and_deterministic(model, seed: int) -> None:
    net, classes = model
    fused = [m.fused_attn for m in net.modules() if hasattr(m, "fused_attn")]
    _check(net, classes, seed)
    assert [m.fused_attn for m in net.modules() if hasattr(m, "fused_attn")] == fused


def test_a_different_seed_draws_different_passes() -> None:
    """Determinism is per seed, not a constant: seeds change the stochastic parts (dropout)."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(8 * 36, 4)
    )
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 4
    a = lswag_plugin.score(net, (x, y), "zico", device="cpu", seed=1)["zico"]
    b = lswag_plugin.score(net, (x, y), "zico", device="cpu", seed=1)["zico"]
    c = lswag_plugin.score(net, (x, y), "zico", device="cpu", seed=2)["zico"]
    assert a == b and a != c


def test_every_proxy_on_a_tiny_cnn_scores_or_raises_a_typed_error() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 36, 4))
    before = snapshot(net)
    x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 4
    outcomes = {}
    for spec in lswag_plugin.available_proxies():
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes[spec.name] = lswag_plugin.score(net, (x, y), spec.name, device="cpu")[
                    spec.name
                ]
        except LswagError as exc:  # e.g. libra without a fitted model file
            outcomes[spec.name] = type(exc).__name__
    assert_untouched(net, before)
    assert outcomes["libra"] == "LibraError" and isinstance(outcomes["lswag"], float)
