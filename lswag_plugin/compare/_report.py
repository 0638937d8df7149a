"""The comparison report: Markdown tables (mean ± std over seeds) and PNG plots, for either mode.

Budget of evaluations: the final best-found accuracy per strategy × evaluator, plots against
evaluations and seconds. Budget of trainings: the best-found accuracy at given numbers of trainings per
strategy (× proxy for hybrids), zero-cost evaluations and seconds beside it, the regret to the table's
optimum against trainings on log axes, and the best hybrid vs the best training-only strategy.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lswag_plugin.compare._run import EVALUATIONS, NO_PROXY, TRAININGS, _check_mode
from lswag_plugin.errors import CompareError
from lswag_plugin.output import figure

__all__ = [
    "at_trainings",
    "describe_run",
    "plot_regret",
    "plot_runs",
    "run_name",
    "summary",
    "write_markdown",
]
#: Regrets below this are drawn at it on the log axis (0 is the optimum itself).
REGRET_FLOOR = 0.01


def _groups(runs: Sequence[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault((r["strategy"], r["evaluator"]), []).append(r)
    return groups


def summary(
    runs: Sequence[dict[str, Any]], *, mode: str = EVALUATIONS, at: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """Returns the report's rows of ``runs`` in ``mode`` (mean ± std over seeds; ``numpy.std``).

    Mode ``"evaluations"``: one row per (strategy, evaluator): seeds, mean/std of the final best-found
    accuracy, the mean charged seconds of a run. Mode ``"trainings"``: one row per strategy (× proxy)
    with, at each ``T`` in ``at``, the mean/std of the target accuracy of the best trained cell, the
    mean zero-cost evaluations and charged seconds: ``{"name", "strategy", "evaluator", "kind", "seeds",
    "short", "at": {T: {"mean", "std", "n", "screened", "zc_seconds"}}}`` (``kind`` is ``"hybrid"``
    or ``"training-only"``; ``short`` counts runs that trained fewer cells than their budget).

    Raises:
        CompareError: Mode ``"trainings"`` without ``at``.
    """
    if _check_mode(mode) == TRAININGS:
        if not at:
            raise CompareError("a report of trainings needs at= (the numbers of trainings T)")
        return _summary_trainings(runs, at)
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
    runs: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    title: str,
    notes: Sequence[str] = (),
    mode: str = EVALUATIONS,
    at: Sequence[int] = (),
    optimum: float | None = None,
) -> Path:
    """Writes the Markdown report of ``runs`` in ``mode``, then ``notes``.

    Mode ``"evaluations"``: strategy × evaluator tables of the final best-found accuracy and of the
    charged seconds. Mode ``"trainings"``: the accuracy at each ``T`` in ``at``, the best hybrid against
    the best training-only strategy (beside the table's ``optimum``), the hybrids' zero-cost work.
    """
    if _check_mode(mode) == TRAININGS:
        if optimum is None:
            raise CompareError("a report of trainings needs the table's optimum")
        lines = _trainings_lines(runs, title=title, at=at, optimum=optimum)
    else:
        lines = _evaluations_lines(runs, title=title)
    lines += ["", *list(notes)]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def _evaluations_lines(runs: Sequence[dict[str, Any]], *, title: str) -> list[str]:
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
    return lines


def plot_runs(runs: Sequence[dict[str, Any]], path: str | Path, *, x: str, title: str = "") -> Path:
    """Plots best-found accuracy (mean ± std over seeds) vs ``x`` (``"evaluations"`` or ``"seconds"``).

    One panel per strategy, one line per evaluator. Against seconds, the seeds' trajectories are
    interpolated on a common grid (a run counts as its last value after it ends).
    """
    groups = _groups(runs)
    strategies = list(dict.fromkeys(s for s, _ in groups))
    evaluators = list(dict.fromkeys(e for _, e in groups))
    with figure(
        path,
        figsize=(3.6 * len(strategies), 3.4),
        ncols=len(strategies),
        sharey=True,
        squeeze=False,
    ) as (fig, axes):
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
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=colors[e], label=e) for e in evaluators]
        axes[0][-1].legend(handles=handles, loc="lower right", fontsize=8)
        if title:
            fig.suptitle(title)
    return Path(path)


def describe_run(record: dict[str, Any]) -> str:
    """Returns one line about a finished run (the progress line of ``lswag compare``)."""
    if record.get("mode", EVALUATIONS) == TRAININGS:
        return (
            f"{run_name(record):>26} seed {record['seed']}: best-found "
            f"{record['best_acc'][-1]:.2f} after {record['trainings']} trainings, "
            f"{record['screened_total']} zero-cost scores, {record['wall_seconds']:.1f} s wall"
        )
    return (
        f"{record['strategy']:>14} {record['evaluator']:>8} seed {record['seed']}: "
        f"best-found {record['best_acc'][-1]:.2f} after {record['evaluations']} evaluations, "
        f"{record['wall_seconds']:.1f} s wall"
    )


def run_name(run: dict[str, Any]) -> str:
    """Returns a run's row name: the strategy, with ``/proxy`` for a hybrid (``zc-local/meco``)."""
    if run["evaluator"] == NO_PROXY:
        return run["strategy"]
    return f"{run['strategy']}/{run['evaluator']}"


def _value_at(values: Sequence[float], t: int) -> float:
    """The trajectory's value after ``t`` trainings (a run that trained fewer keeps its last value)."""
    if not values:
        return float("nan")
    return float(values[min(t, len(values)) - 1])


def _summary_trainings(runs: Sequence[dict[str, Any]], at: Sequence[int]) -> list[dict[str, Any]]:
    """Returns one row per strategy (× proxy): at each ``T`` in ``at``, mean/std over seeds of the
    target accuracy of the best trained cell, with the mean zero-cost evaluations and charged seconds.

    Runs whose budget is below ``T`` give nothing at ``T``; the std is ``numpy.std`` (population).
    Rows: ``{"name", "strategy", "evaluator", "kind", "seeds", "short", "at": {T: {...}}}`` where
    ``kind`` is ``"hybrid"`` or ``"training-only"`` and ``short`` counts runs that trained fewer
    cells than their budget.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(run_name(r), []).append(r)
    rows = []
    for name, rs in sorted(groups.items()):
        first = rs[0]
        row: dict[str, Any] = {
            "name": name,
            "strategy": first["strategy"],
            "evaluator": first["evaluator"],
            "kind": "training-only" if first["evaluator"] == NO_PROXY else "hybrid",
            "seeds": len(rs),
            "short": sum(1 for r in rs if r["trainings"] < r["budget"]),
            "at": {},
        }
        for t in at:
            usable = [r for r in rs if r["budget"] >= t and r["best_acc"]]
            if not usable:
                continue
            acc = np.array([_value_at(r["best_acc"], t) for r in usable])
            zc = np.array([_value_at(r["screened"], t) for r in usable])
            secs = np.array([_value_at(r["zc_seconds"], t) for r in usable])
            row["at"][int(t)] = {
                "mean": float(acc.mean()),
                "std": float(acc.std()),
                "n": len(usable),
                "screened": float(zc.mean()),
                "zc_seconds": float(secs.mean()),
            }
        rows.append(row)
    return rows


def at_trainings(rows: Sequence[dict[str, Any]], at: Sequence[int]) -> dict[str, Any]:
    """Returns ``{"<T>": {"best_hybrid": {"name", "mean", "std"}, "best_training_only": {...}}}``.

    The best of a kind at ``T`` is the row with the highest mean (first by name among ties); a kind with
    no row at ``T`` is None.
    """
    out: dict[str, Any] = {}
    for t in at:
        entry: dict[str, Any] = {}
        for kind, label in (("hybrid", "best_hybrid"), ("training-only", "best_training_only")):
            cands = [r for r in rows if r["kind"] == kind and int(t) in r["at"]]
            cands.sort(key=lambda r: (-r["at"][int(t)]["mean"], r["name"]))
            entry[label] = (
                {
                    "name": cands[0]["name"],
                    "mean": cands[0]["at"][int(t)]["mean"],
                    "std": cands[0]["at"][int(t)]["std"],
                }
                if cands
                else None
            )
        out[str(int(t))] = entry
    return out


def _header(names: Sequence[str], cols: Sequence[int]) -> list[str]:
    """A table's header and rule: ``names``, then one column per T."""
    heads = [*names, *(f"T = {t}" for t in cols)]
    return ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]


def _cells(row: dict[str, Any], cols: Sequence[int], cell: Callable[[dict[str, Any]], str]) -> str:
    """A row's table cells: ``cell`` of its values at each T, ``–`` where it has none."""
    return " | ".join(cell(row["at"][t]) if t in row["at"] else "–" for t in cols)


def _trainings_lines(
    runs: Sequence[dict[str, Any]], *, title: str, at: Sequence[int], optimum: float
) -> list[str]:
    """The report of a budget of trainings: accuracy at each T, zero-cost work, best of each kind."""
    rows = _summary_trainings(runs, at)
    cols = [int(t) for t in at]
    lines = [
        f"# {title}",
        "",
        "Target accuracy of the cell with the best trained result after T trainings, "
        "mean ± std over seeds (n = seeds):",
        "",
        *_header(["strategy", "kind"], cols),
    ]
    for kind in ("hybrid", "training-only"):
        for r in (r for r in rows if r["kind"] == kind):
            cells = _cells(r, cols, lambda a: f"{a['mean']:.2f} ± {a['std']:.2f} (n={a['n']})")
            lines.append(f"| {r['name']} | {kind} | {cells} |")
    best = at_trainings(rows, at)
    lines += [
        "",
        f"Best of each kind (optimum of the table: {optimum:.2f}):",
        "",
        "| T | best hybrid | best training-only | difference |",
        "|---|---|---|---|",
    ]
    for t in cols:
        h, o = best[str(t)]["best_hybrid"], best[str(t)]["best_training_only"]
        diff = f"{h['mean'] - o['mean']:+.2f}" if h and o else "–"
        lines.append(
            f"| {t} | "
            + (f"{h['name']} {h['mean']:.2f} ± {h['std']:.2f}" if h else "–")
            + " | "
            + (f"{o['name']} {o['mean']:.2f} ± {o['std']:.2f}" if o else "–")
            + f" | {diff} |"
        )
    lines += [
        "",
        "Zero-cost work of the hybrids after T trainings, mean per run: distinct cells scored / "
        "charged seconds (free in the count of trainings):",
        "",
        *_header(["strategy"], cols),
    ]
    for r in (r for r in rows if r["kind"] == "hybrid"):
        cells = _cells(r, cols, lambda a: f"{a['screened']:.0f} / {a['zc_seconds']:.0f} s")
        lines.append(f"| {r['name']} | {cells} |")
    short = [f"{r['name']} ({r['short']})" for r in rows if r["short"]]
    if short:
        lines += ["", "Runs that trained fewer cells than their budget: " + ", ".join(short) + "."]
    return lines


def plot_regret(
    runs: Sequence[dict[str, Any]],
    path: str | Path,
    *,
    optimum: float,
    title: str = "",
    marks: Sequence[int] = (),
) -> Path:
    """Plots the regret (``optimum`` − best-found accuracy) against trainings, both axes logarithmic.

    Two panels (hybrids, training-only), one line per strategy (× proxy): the mean regret over seeds
    with a ± std band; values below :data:`REGRET_FLOOR` are drawn at it. ``marks`` draws vertical
    lines (e.g. at T = 10, 20, 50, 100).
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        if r["best_acc"]:
            groups.setdefault(run_name(r), []).append(r)
    kinds = {
        "hybrids (zero-cost screening + trainings)": [
            n for n, rs in groups.items() if rs[0]["evaluator"] != NO_PROXY
        ],
        "training only": [n for n, rs in groups.items() if rs[0]["evaluator"] == NO_PROXY],
    }
    kinds = {k: sorted(v) for k, v in kinds.items() if v}
    with figure(
        path, figsize=(6.2 * len(kinds), 4.6), ncols=len(kinds), sharey=True, squeeze=False
    ) as (fig, axes):
        for ax, (label, names) in zip(axes[0], kinds.items()):
            for i, name in enumerate(names):
                rs = groups[name]
                n = max(len(r["best_acc"]) for r in rs)
                ys = np.array([[_value_at(r["best_acc"], t) for t in range(1, n + 1)] for r in rs])
                regret = optimum - ys
                mean, std = regret.mean(axis=0), regret.std(axis=0)
                x = np.arange(1, n + 1)
                color = f"C{i % 10}"
                style = "-" if i < 10 else "--"
                ax.plot(x, np.maximum(mean, REGRET_FLOOR), style, color=color, label=name)
                ax.fill_between(
                    x,
                    np.maximum(mean - std, REGRET_FLOOR),
                    np.maximum(mean + std, REGRET_FLOOR),
                    color=color,
                    alpha=0.12,
                )
            for t in marks:
                ax.axvline(t, color="0.6", lw=0.6, ls=":")
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_title(label)
            ax.set_xlabel("trainings")
            ax.grid(alpha=0.3, which="both")
            ax.legend(fontsize=7, loc="lower left")
        axes[0][0].set_ylabel(f"regret to the optimum {optimum:.2f} (points, log)")
        if title:
            fig.suptitle(title)
    return Path(path)
