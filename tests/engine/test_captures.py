"""The capture protocol: needs → captures, planning, what a proxy may read, and a new need in one file."""

from __future__ import annotations

import contextlib
from typing import ClassVar

import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.engine import registry
from lswag_plugin.engine.captures import CAPTURES, Capture, capture_for, describe
from lswag_plugin.engine.plan import make_plan
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.errors import AlreadyRegistered


def _net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 4)
    )


def _batch() -> tuple[torch.Tensor, torch.Tensor]:
    return torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(0)), torch.arange(8) % 4


def test_every_need_but_two_has_one_capture_and_describes_what_it_publishes() -> None:
    table = describe()
    assert {n for n, d in table.items() if not d["capture"]} == {"SPECIAL_PASS"}
    assert "patterns" in table["ACTIVATION_PATTERNS"]["publishes"]
    assert table["ACTIVATIONS"]["capture"] == table["ACTIVATION_PATTERNS"]["capture"]
    assert all(CAPTURES[need].needs & need for need in CAPTURES)


def test_needs_combine_as_sets_and_pickle() -> None:
    import pickle

    both = Needs.WEIGHT_GRADS | Needs.FLOPS
    assert (
        both & Needs.FLOPS
        and not (both & Needs.ACTIVATIONS)
        and both - Needs.FLOPS == Needs.WEIGHT_GRADS
    )
    assert pickle.loads(pickle.dumps(both)) == both and repr(Needs.NOTHING) == "Needs.NOTHING"
    with pytest.raises(ValueError, match="already defined"):
        Needs.define("FLOPS", "again")


def test_the_plan_closes_needs_over_what_captures_require_and_orders_them() -> None:
    plan = make_plan("grasp")
    assert plan.needs & Needs.WEIGHT_GRADS  # grasp's H·g reads the weight gradients
    names = [c.__name__ for c in plan.captures]
    assert names.index("WeightGradsCapture") < names.index("HessianGradCapture")
    assert plan.describe() == ["forward+backward x2", "forward+double backward x2"]
    assert make_plan("params").captures == () and not make_plan("params").forward
    assert make_plan("flops").forward and not make_plan("flops").backward


def test_reading_an_undeclared_capture_names_the_need(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))

    @register_proxy("test_undeclared", needs=Needs.NOTHING)
    def undeclared(ctx) -> float:
        return float(len(ctx.weight_grads))

    with pytest.raises(AttributeError, match=r"declare needs=Needs\.WEIGHT_GRADS"):
        lswag_plugin.score(_net(), _batch(), "test_undeclared", device="cpu")


def test_a_proxy_name_is_registered_once_unless_overridden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ALIASES", dict(registry._ALIASES))
    with pytest.raises(AlreadyRegistered, match="'lswag' is already registered"):
        register_proxy("lswag")(lambda ctx: 0.0)
    with pytest.raises(AlreadyRegistered, match="'jacob_cov'"):  # an alias is taken too
        register_proxy("test_other", aliases=("jacob_cov",))(lambda ctx: 0.0)
    register_proxy("lswag", override=True)(lambda ctx: 1.0)
    assert lswag_plugin.score(_net(), _batch(), "lswag", device="cpu")["lswag"] == 1.0


def test_a_new_need_is_one_capture_class(monkeypatch: pytest.MonkeyPatch) -> None:
    """A need defined and served outside the engine: hooks removed, rolled state published once."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(Needs, "_DEFINED", dict(Needs._DEFINED))
    table = dict(CAPTURES)
    monkeypatch.setattr("lswag_plugin.engine.captures._base.CAPTURES", table)
    monkeypatch.setattr("lswag_plugin.engine.plan.CAPTURES", table)
    conv_calls = Needs.define("TEST_CONV_CALLS", "forward calls of Conv2d modules")

    @capture_for(conv_calls)
    class ConvCalls(Capture):
        publishes: ClassVar[dict[str, str]] = {"conv_calls": "int: Conv2d forward calls"}

        def __init__(self, run) -> None:
            super().__init__(run)
            self.calls = 0

        def attach(self, stack: contextlib.ExitStack) -> None:
            for _, module in self.ctx.index.weight_layers:
                if isinstance(module, nn.Conv2d):
                    stack.callback(module.register_forward_hook(self._count).remove)

        def _count(self, *args) -> None:
            self.calls += 1

        def publish(self, ctx) -> None:
            ctx.captured["conv_calls"] = self.calls

    @register_proxy("test_conv_calls", needs=conv_calls)
    def conv_calls_proxy(ctx) -> float:
        return float(ctx.conv_calls)

    model = _net()
    scores = lswag_plugin.score(
        model, _batch(), "test_conv_calls,nwot", device="cpu", minibatches=4
    )
    assert scores["test_conv_calls"] == 4.0  # one per minibatch
    assert scores.passes == ["forward x4"]
    assert not model[0]._forward_hooks  # the caller's model was never hooked
