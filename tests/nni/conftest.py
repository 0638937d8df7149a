"""Fixtures of the NNI tests: quiet NNI logs and a lower-is-better proxy (each test module skips without NNI)."""

from __future__ import annotations

import logging

import pytest

logging.getLogger("nni").setLevel(logging.WARNING)


@pytest.fixture()
def min_proxy(monkeypatch: pytest.MonkeyPatch) -> str:
    """Registers ``test_nni_min_params`` (#params, lower is better) for this test only."""
    from lswag_plugin.proxies import _registry
    from lswag_plugin.proxies._registry import Needs, register_proxy

    _registry.get_proxy("params")  # load the built-ins before copying the registry
    monkeypatch.setattr(_registry, "_REGISTRY", dict(_registry._REGISTRY))

    @register_proxy("test_nni_min_params", direction="min", needs=Needs.NOTHING)
    def test_nni_min_params(ctx) -> float:
        return float(sum(p.numel() for p in ctx.source_model.parameters()))

    return "test_nni_min_params"
