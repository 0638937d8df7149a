"""Fixtures of the NNI tests: quiet NNI logs and a lower-is-better proxy (each test module skips without NNI)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

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


@pytest.fixture(autouse=True)
def _nni_home(monkeypatch: pytest.MonkeyPatch) -> None:
    """NNI binds its experiment manifest to the real ~ at import: point it at the test HOME too."""
    try:
        from nni.tools.nnictl import config_utils, constants
    except ImportError:  # NNI absent: the test modules skip
        return
    import nni

    monkeypatch.setattr(
        nni.trial, "_params", None
    )  # an in-process experiment leaves its last trial set
    home = str(Path(os.environ["HOME"]) / "nni-experiments")
    monkeypatch.setattr(constants, "NNI_HOME_DIR", home)
    monkeypatch.setattr(config_utils.Experiments.__init__, "__defaults__", (home,))
