"""The comparison report: a Markdown table (mean ± std of the final best-found accuracy) and PNG plots."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plot_runs", "summary", "write_markdown"]


def _groups(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["strategy"], r["evaluator"]), []).append(r)
    return groups


def summary(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Returns one row per (strategy, evaluator): seeds, mean/std of the final best-found accuracy, seconds.

    The std is the population std over seeds (``numpy.std``); seconds are the mean charged cost of a run.
    """
    rows = []
    for (strategy, evaluator), rs in sorted(_groups(runs).items()):
        final = np.array([r["best_acc"][-1] for r in rs if r["best_acc"]], dtype=float)
        secs = np.array([r["seconds"][-1] for r in rs if r["seconds"]], dtype=float)
        rows.append(
            {
                "strategy": strategy,
                "evaluator": evaluator,
                "seeds": len(rs),
                "evaluations": min(r["evaluations"] for r in rs),
                "mean": float(final.mean()) if final.size else float("nan"),
                "std": float(final.std()) if final.size else float("nan"),
                "seconds": float(secs.mean()) if secs.size else float("nan"),
            }
        )
    return rows


def write_markdown(
    runs: Sequence[dict[str, Any]], path: str | Path, *, title: str, notes: Sequence[str] = ()
) -> Path:
    """Writes the report: a strategy × evaluator table of final best-found accuracy, then ``notes``."""
    rows = summary(runs)
    strategies = list(dict.fromkeys(r["strategy"] for r in rows))
    evaluators = list(dict.fromkeys(r["evaluator"] for r in rows))
    cell = {(r["strategy"], r["evaluator"]): r for r in rows}
    lines = [f"# {title}", "", "Final best-found accuracy, mean ± std over seeds (n = seeds):", ""]
    lines.append("| strategy | " + " | ".join(evaluators) + " |")
    lines.append("|---|" + "---|" * len(evaluators))
    for s in strategies:
        parts = []
        for e in evaluators:
            r = cell.get((s, e))
            parts.append("–" if r is None else f"{r['mean']:.2f} ± {r['std']:.2f} (n={r['seeds']})")
        lines.append(f"| {s} | " + " | ".join(parts) + " |")
    lines += [
        "",
        "Mean charged seconds per run (strategy time + scoring cost of every evaluation):",
        "",
    ]
    lines.append("| strategy | " + " | ".join(evaluators) + " |")
    lines.append("|---|" + "---|" * len(evaluators))
    for s in strategies:
        parts = [
            "–" if cell.get((s, e)) is None else f"{cell[(s, e)]['seconds']:.1f}"
            for e in evaluators
        ]
        lines.append(f"| {s} | " + " | ".join(parts) + " |")
    lines += ["", *list(notes)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def plot_runs(runs: Sequence[dict[str, Any]], path: str | Path, *, x: str, title: str = "") -> Path:
    """Plots best-found accuracy (mean ± std over seeds) vs ``x`` (``"evaluations"`` or ``"seconds"``).

    One panel per strategy, one line per evaluator. Against seconds, the seeds' trajectories are
    interpolated on a common grid (a run counts as its last value after it ends).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = _groups(runs)
    strategies = list(dict.fromkeys(s for s, _ in groups))
    evaluators = list(dict.fromkeys(e for _, e in groups))
    fig, axes = plt.subplots(
        1, len(strategies), figsize=(3.6 * len(strategies), 3.4), sharey=True, squeeze=False
    )
    colors = {e: f"C{i}" for i, e in enumerate(evaluators)}
    for ax, s in zip(axes[0], strategies):
        for e in evaluators:
            rs = [r for r in groups.get((s, e), []) if r["best_acc"]]
            if not rs:
                continue
            n = min(len(r["best_acc"]) for r in rs)
            if x == "evaluations":
                grid = np.arange(1, n + 1)
                ys = np.array([r["best_acc"][:n] for r in rs])
            else:
                end = max(r["seconds"][-1] for r in rs)
                grid = np.geomspace(
                    max(min(r["seconds"][0] for r in rs), 1e-3), max(end, 1e-2), 200
                )
                ys = np.array(
                    [np.interp(grid, r["seconds"], r["best_acc"], left=np.nan) for r in rs]
                )
            with np.errstate(invalid="ignore"):
                mean, std = np.nanmean(ys, axis=0), np.nanstd(ys, axis=0)
            ax.plot(grid, mean, color=colors[e], label=e)
            ax.fill_between(grid, mean - std, mean + std, color=colors[e], alpha=0.2)
        if x == "seconds":
            ax.set_xscale("log")
        ax.set_title(s)
        ax.set_xlabel("evaluations" if x == "evaluations" else "seconds (charged)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("best-found accuracy")
    handles = [plt.Line2D([], [], color=colors[e], label=e) for e in evaluators]
    axes[0][-1].legend(handles=handles, loc="lower right", fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
