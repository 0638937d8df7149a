"""Plots of a benchmark: score-vs-accuracy scatter and per-proxy ρ bars (matplotlib, imported lazily).

Needs the ``plot`` extra (``pip install lswag-plugin[plot]``); figures are drawn with the Agg backend, so
no display is needed.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lswag_plugin.errors import LswagError

__all__ = ["rho_bars", "scatter"]


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LswagError(
            "plots need matplotlib: pip install 'lswag-plugin[plot]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _output(path: str | os.PathLike[str]) -> Path:
    out = Path(path)
    if out.suffix.lower() != ".png":
        raise ValueError(f"plots are written as PNG; give a path ending in .png, got {out}")
    out.parent.mkdir(parents=True, exist_ok=True)
    return out


def scatter(
    scores: Sequence[float],
    targets: Sequence[float | None],
    *,
    proxy: str,
    target: str,
    path: str | os.PathLike[str],
) -> Path:
    """Returns ``path`` after drawing score vs. target, with Spearman ρ in the title.

    Pairs where the score or the target is missing (None/NaN) are left out and counted in the title;
    ±inf scores are drawn at the edge of the finite range (ρ ranks them as they are).

    Example:
        >>> import tempfile, pathlib
        >>> out = scatter([1, 2, 3, 4], [10, 30, 20, 40], proxy="lswag", target="acc",
        ...               path=pathlib.Path(tempfile.mkdtemp()) / "s.png")
        >>> out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    from scipy.stats import spearmanr

    if len(scores) != len(targets):
        raise ValueError(
            f"{len(scores)} scores but {len(targets)} targets: give one per architecture"
        )
    s = np.array([math.nan if v is None else float(v) for v in scores])
    t = np.array([math.nan if v is None else float(v) for v in targets])
    keep = ~np.isnan(s) & ~np.isnan(t)
    s, t = s[keep], t[keep]
    rho = float(spearmanr(s, t).statistic) if len(s) >= 3 else math.nan
    finite = np.isfinite(s)
    if finite.any() and not finite.all():
        low, high = s[finite].min(), s[finite].max()
        s = np.where(s == -np.inf, low, np.where(s == np.inf, high, s))
    out = _output(path)
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    try:
        ax.scatter(s, t, s=12, alpha=0.7)
        ax.set_xlabel(proxy)
        ax.set_ylabel(target)
        dropped = int((~keep).sum())
        note = f", {dropped} missing left out" if dropped else ""
        ax.set_title(
            f"{proxy} vs {target}\nSpearman ρ = {rho:.3f} (n = {len(s)}{note})", fontsize=10
        )
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out


def rho_bars(rhos: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str]) -> Path:
    """Returns ``path`` after drawing grouped bars of ρ: one group per benchmark, one bar per proxy.

    Args:
        rhos: benchmark → proxy → ρ (a proxy missing from a benchmark leaves a gap).
        path: A ``.png`` file.

    Example:
        >>> import tempfile, pathlib
        >>> out = rho_bars({"nb201-c10": {"lswag": 0.79, "params": 0.71}, "autoformer-t": {"lswag": 0.9}},
        ...                pathlib.Path(tempfile.mkdtemp()) / "bars.png")
        >>> out.suffix
        '.png'
    """
    if not rhos:
        raise ValueError("rho_bars needs at least one benchmark (benchmark → proxy → ρ)")
    benchmarks = list(rhos)
    proxies = list(dict.fromkeys(p for b in benchmarks for p in rhos[b]))
    if not proxies:
        raise ValueError("rho_bars needs at least one proxy value")
    out = _output(path)
    plt = _pyplot()
    width = 0.8 / len(proxies)
    x = np.arange(len(benchmarks))
    size = min(14.0, max(6.0, 1.5 + 0.2 * len(benchmarks) * len(proxies)))
    fig, ax = plt.subplots(figsize=(size, 4))
    try:
        for k, proxy in enumerate(proxies):
            values = [float(rhos[b].get(proxy, math.nan)) for b in benchmarks]
            ax.bar(x - 0.4 + width * (k + 0.5), values, width, label=proxy)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.set_xticks(
            x,
            benchmarks,
            rotation=20 if len(benchmarks) > 4 else 0,
            ha="right" if len(benchmarks) > 4 else "center",
        )
        ax.set_ylabel("Spearman ρ")
        drawn = [float(v) for b in rhos.values() for v in b.values() if not math.isnan(float(v))]
        ax.set_ylim(min([-0.1, *drawn]) - 0.05, 1.0)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.0, 1.0))
        ax.set_title("Spearman ρ of each proxy per benchmark")
        fig.tight_layout()
        fig.savefig(out, format="png")
    finally:
        plt.close(fig)
    return out
