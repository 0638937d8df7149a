"""Plots of a benchmark: score-vs-accuracy scatter and per-proxy ρ bars (matplotlib, imported lazily).

Needs the ``plot`` extra (``pip install lswag-plugin[plot]``); figures are drawn with the Agg backend
(:func:`lswag_plugin.output.figure`), so no display is needed. ρ is :func:`lswag_plugin.stats.spearman`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from lswag_plugin.output import figure
from lswag_plugin.stats import spearman

__all__ = ["rho_bars", "scatter"]


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
    ±inf scores are drawn at the edge of the finite range (ρ ranks them as they are: the NaN policy of
    :mod:`lswag_plugin.stats`).

    Raises:
        ValueError: ``scores`` and ``targets`` differ in length, or ``path`` is not a ``.png`` file.

    Example:
        >>> import tempfile, pathlib
        >>> out = scatter([1, 2, 3, 4], [10, 30, 20, 40], proxy="lswag", target="acc",
        ...               path=pathlib.Path(tempfile.mkdtemp()) / "s.png")
        >>> out.read_bytes()[:4] == b"\\x89PNG"
        True
    """
    if len(scores) != len(targets):
        raise ValueError(
            f"{len(scores)} scores but {len(targets)} targets: give one per architecture"
        )
    s = np.array([math.nan if v is None else float(v) for v in scores])
    t = np.array([math.nan if v is None else float(v) for v in targets])
    keep = ~np.isnan(s) & ~np.isnan(t)
    s, t = s[keep], t[keep]
    rho = spearman(s, t)
    finite = np.isfinite(s)
    if finite.any() and not finite.all():
        low, high = s[finite].min(), s[finite].max()
        s = np.where(s == -np.inf, low, np.where(s == np.inf, high, s))
    out = Path(path)
    with figure(out, figsize=(5, 4), dpi=100) as (_, ax):
        ax.scatter(s, t, s=12, alpha=0.7)
        ax.set_xlabel(proxy)
        ax.set_ylabel(target)
        dropped = int((~keep).sum())
        note = f", {dropped} missing left out" if dropped else ""
        ax.set_title(
            f"{proxy} vs {target}\nSpearman ρ = {rho:.3f} (n = {len(s)}{note})", fontsize=10
        )
    return out


def rho_bars(rhos: Mapping[str, Mapping[str, float]], path: str | os.PathLike[str]) -> Path:
    """Returns ``path`` after drawing grouped bars of ρ: one group per benchmark, one bar per proxy.

    Args:
        rhos: benchmark → proxy → ρ (a proxy missing from a benchmark leaves a gap).
        path: A ``.png`` file.

    Raises:
        ValueError: No benchmark or no proxy value, or ``path`` is not a ``.png`` file.

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
    out = Path(path)
    width = 0.8 / len(proxies)
    x = np.arange(len(benchmarks))
    size = min(14.0, max(6.0, 1.5 + 0.2 * len(benchmarks) * len(proxies)))
    with figure(out, figsize=(size, 4), dpi=100) as (_, ax):
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
    return out
