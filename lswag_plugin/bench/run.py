"""Scores the architectures of a ground-truth table and correlates each proxy with the target."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lswag_plugin.bench.correlate import kendall, spearman
from lswag_plugin.bench.tables import target_values
from lswag_plugin.data import batch_fingerprint
from lswag_plugin.engine import score
from lswag_plugin.engine.run import autocast_dtype_of
from lswag_plugin.proxies import resolve_names
from lswag_plugin.spaces import SearchSpace

__all__ = ["BenchResult", "format_table", "run_bench"]


@dataclass
class BenchResult:
    """Per-architecture scores and their correlation with the target."""

    rows: list[dict[str, Any]]
    proxies: list[str]
    target: str
    spearman: dict[str, float]
    kendall: dict[str, float]
    seconds: float
    scored: int = 0
    from_cache: int = 0
    components: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Returns the JSON summary printed by ``lswag bench --json``."""
        return {
            "n": len(self.rows),
            "spearman": self.spearman,
            "kendall": self.kendall,
            "seconds": round(self.seconds, 3),
            "scored": self.scored,
            "from_cache": self.from_cache,
        }


def run_bench(
    space: SearchSpace,
    rows: Sequence[Mapping[str, Any]],
    *,
    arch_column: str,
    target: str,
    batch: tuple[torch.Tensor, torch.Tensor],
    proxies: str | Sequence[str],
    num_classes: int,
    resolution: int | None = None,
    seed: int = 0,
    minibatches: int = 2,
    layer_band: Any = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    device: str | None = "cpu",
    cache: Any = None,
    show_progress: bool = True,
    precision: str | None = None,
) -> BenchResult:
    """Returns the scores of every row's architecture and each proxy's Spearman/Kendall vs ``target``.

    Each architecture is built with ``torch.manual_seed(seed)`` and scored on ``batch`` with ``seed``.
    With a :class:`~lswag_plugin.cache.ScoreCache`, scores already computed with the same settings are
    read back instead of recomputed, and new ones are written.
    """
    from lswag_plugin.cli._common import progress

    names = resolve_names(proxies)
    x, y = batch
    fingerprint = batch_fingerprint(x, y)
    from lswag_plugin.cache import cache_version

    settings = {
        "minibatches": minibatches,
        "layer_band": str(layer_band),
        "options": options or {},
        "num_classes": num_classes,
        "batch": len(x),
    }
    if autocast_dtype_of(precision) is not None:  # full precision keeps the keys it always had
        settings["precision"] = str(autocast_dtype_of(precision))
    version = cache_version(settings)
    started = time.perf_counter()
    out_rows: list[dict[str, Any]] = []
    scored = from_cache = 0
    component_names: list[str] = []
    for row in progress(
        rows, total=len(rows), desc=f"scoring {space.name}", disable=not show_progress
    ):
        arch = space.validate(row[arch_column])
        encoded = space.encode(arch)
        keys = {}
        values: dict[str, float] = {}
        if cache is not None:
            from lswag_plugin.cache import CacheKey

            keys = {
                n: CacheKey(space.name, encoded, n, fingerprint, seed, resolution, version)
                for n in names
            }
            hits = cache.get_many(list(keys.values()))
            values = {n: hits[k] for n, k in keys.items() if k in hits}
        if len(values) < len(names):
            model = space.build_seeded(
                arch, seed=seed, num_classes=num_classes, resolution=resolution
            )
            result = score(
                model,
                (x, y),
                names,
                seed=seed,
                batch_size=None,
                minibatches=minibatches,
                layer_band=layer_band,
                options=options,
                device=device,
                precision=precision,
            )
            values = dict(result.values)
            for k, v in result.components.items():
                values[k] = v
                if k not in component_names:
                    component_names.append(k)
            scored += 1
            if cache is not None:
                cache.put_many({keys[n]: values[n] for n in names})
        else:
            from_cache += 1
        out = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
        out[arch_column] = encoded
        out.update(values)
        out_rows.append(out)
    truth = target_values(out_rows, target)
    rho = {n: spearman([r[n] for r in out_rows], truth) for n in names}
    tau = {n: kendall([r[n] for r in out_rows], truth) for n in names}
    return BenchResult(
        rows=out_rows,
        proxies=names,
        target=target,
        spearman=rho,
        kendall=tau,
        seconds=time.perf_counter() - started,
        scored=scored,
        from_cache=from_cache,
        components=component_names,
    )


def format_table(result: BenchResult) -> str:
    """Returns the per-proxy correlation table as aligned text."""
    width = max(len(p) for p in result.proxies) + 2
    lines = [f"{'proxy':<{width}}{'spearman':>10}{'kendall':>10}", "-" * (width + 20)]
    for p in result.proxies:
        rho, tau = result.spearman[p], result.kendall[p]
        lines.append(f"{p:<{width}}{_fmt(rho):>10}{_fmt(tau):>10}")
    return "\n".join(lines)


def _fmt(v: float) -> str:
    return "nan" if math.isnan(v) else f"{v:.4f}"
