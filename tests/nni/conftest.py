"""Fixtures of the NNI tests: quiet NNI logs and a lower-is-better proxy (each test module skips without NNI)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

logging.getLogger("nni").setLevel(logging.WARNING)


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
