"""Scores the architectures of a ground-truth table and correlates each proxy with the target."""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from lswag_plugin.bench.tables import target_values
from lswag_plugin.engine import Scorer, ScoringConfig
from lswag_plugin.output import progress
from lswag_plugin.spaces import SearchSpace
from lswag_plugin.stats import kendall, spearman

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
    interrupted: bool = False

    def summary(self) -> dict[str, Any]:
        """Returns the JSON summary printed by ``lswag bench --json``."""
        return {
            "n": len(self.rows),
            "spearman": self.spearman,
            "kendall": self.kendall,
            "seconds": round(self.seconds, 3),
            "scored": self.scored,
            "from_cache": self.from_cache,
            "interrupted": self.interrupted,
        }


def run_bench(
    space: SearchSpace,
    rows: Sequence[Mapping[str, Any]],
    *,
    arch_column: str,
    target: str,
    proxies: str | Sequence[str],
    config: ScoringConfig | None = None,
    cache: Any = None,
    show_progress: bool = True,
    batch: tuple[torch.Tensor, torch.Tensor] | None = None,
    **settings: Any,
) -> BenchResult:
    """Returns the scores of every row's architecture and each proxy's Spearman/Kendall vs ``target``.

    Each architecture is built from the config's seed and scored on its batch (a
    :class:`~lswag_plugin.engine.Scorer` for ``space``). With a
    :class:`~lswag_plugin.cache.ScoreCache`, scores already computed with the same settings (by bench,
    search or compare alike: one key recipe) are read back instead of recomputed, and new ones are
    written. Interrupted (``KeyboardInterrupt``, e.g. Ctrl-C or SIGINT), it stops and returns the rows
    scored so far, with ``interrupted`` set.

    Args:
        space: The search space of the architectures.
        rows: Table rows; ``row[arch_column]`` is an architecture of ``space``.
        arch_column: The column holding the architecture.
        target: The ground-truth column.
        proxies: Proxy names.
        config: The scoring settings (resolution defaults to the space's, ``num_classes`` to 10).
        cache: A score cache or None.
        show_progress: Show a progress bar on stderr.
        batch: Deprecated: pass ``data=(x, y)``.
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s.
    """
    if batch is not None:
        warnings.warn(
            "run_bench(batch=...) is deprecated; pass data=(x, y) or a ScoringConfig",
            DeprecationWarning,
            stacklevel=2,
        )
        settings.setdefault("data", batch)
        settings.setdefault("batch_size", None)
    scorer = Scorer(proxies, config, space=space, cache=cache, **settings)
    names = scorer.proxies
    started = time.perf_counter()
    out_rows: list[dict[str, Any]] = []
    scored = from_cache = 0
    component_names: list[str] = []
    interrupted = False
    for row in progress(
        rows, total=len(rows), desc=f"scoring {space.name}", disable=not show_progress
    ):
        arch = space.validate(row[arch_column])
        try:
            (result,) = scorer.score_archs([arch], catch=False)
        except KeyboardInterrupt:
            # Ctrl-C / SIGINT: stop and report the rows scored so far (with ``--sample`` they are a
            # random subset of the table, since the sample is drawn in random order).
            interrupted = True
            break
        values = dict(result.values or {})
        if result.cached:
            from_cache += 1
        else:
            scored += 1
            for k, v in result.components.items():
                values.setdefault(k, v)
                if k not in component_names:
                    component_names.append(k)
        out = {k: v for k, v in row.items() if not isinstance(v, dict | list)}
        out[arch_column] = result.arch
        out.update(values)
        out_rows.append(out)
    names = [*names, *_pooled_columns(names, out_rows)]
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
        interrupted=interrupted,
    )


def _pooled_columns(names: Sequence[str], rows: list[dict[str, Any]]) -> list[str]:
    """Adds the columns aggregated over the scored rows themselves; returns their names.

    ``az_nas_pool``: with the four AZ-NAS proxies scored, their non-linear rank aggregation within
    these rows (:func:`~lswag_plugin.proxies.az_nas.az_nas_pool`), as the paper ranks its pools.
    """
    from lswag_plugin.proxies.az_nas import AZ_PROXIES, az_nas_pool

    if not rows or not all(p in names for p in AZ_PROXIES):
        return []
    pooled = az_nas_pool({p: [r.get(p) for r in rows] for p in AZ_PROXIES})
    for row, value in zip(rows, pooled):
        row["az_nas_pool"] = float(value)
    return ["az_nas_pool"]


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
