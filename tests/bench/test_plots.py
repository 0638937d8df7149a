"""Benchmark plots: a scatter with ρ in the title and grouped ρ bars, written as PNG files."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from lswag_plugin.bench import plots

PNG = b"\x89PNG\r\n\x1a\n"


def test_scatter_writes_png_with_rho_in_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    titles = []
    import matplotlib.axes

    original = matplotlib.axes.Axes.set_title
    monkeypatch.setattr(
        matplotlib.axes.Axes,
        "set_title",
        lambda self, label, *a, **k: (titles.append(label), original(self, label, *a, **k))[1],
    )
    out = plots.scatter(
        [1.0, 2.0, 3.0, math.nan, -math.inf],
        [10.0, 20.0, 30.0, 40.0, None],
        proxy="lswag",
        target="c100_kd_acc",
        path=tmp_path / "deep" / "scatter.png",
    )
    assert out == tmp_path / "deep" / "scatter.png"
    assert out.read_bytes()[:8] == PNG
    assert titles == ["lswag vs c100_kd_acc\nSpearman ρ = 1.000 (n = 3, 2 missing left out)"]


def test_scatter_draws_infinite_scores_at_the_edge(tmp_path: Path) -> None:
    out = plots.scatter(
        [-math.inf, 1.0, 2.0, 3.0],
        [1.0, 2.0, 3.0, 4.0],
        proxy="nwot",
        target="acc",
        path=tmp_path / "s.png",
    )
    assert out.read_bytes()[:8] == PNG


def test_scatter_checks_lengths_and_suffix(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="one per architecture"):
        plots.scatter([1.0], [1.0, 2.0], proxy="p", target="t", path=tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"\.png"):
        plots.scatter([1.0], [1.0], proxy="p", target="t", path=tmp_path / "x.pdf")


def test_rho_bars_writes_png(tmp_path: Path) -> None:
    rhos = {
        "nb201-c10": {"lswag": 0.79, "swap": 0.71, "params": 0.71},
        "autoformer-t kd": {"lswag": 0.9, "params": 0.72, "nwot": math.nan},
        "autoformer-t base": {"lswag": -0.2, "params": -0.47},
    }
    out = plots.rho_bars(rhos, tmp_path / "bars.png")
    assert out.read_bytes()[:8] == PNG
    with pytest.raises(ValueError, match="at least one benchmark"):
        plots.rho_bars({}, tmp_path / "empty.png")


def test_importing_the_package_does_not_import_matplotlib() -> None:
    import subprocess

    code = "import lswag_plugin, lswag_plugin.bench.plots, sys; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
