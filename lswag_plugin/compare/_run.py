"""The comparison grid: strategies × evaluators × seeds under one budget, resumable from a JSON-lines file."""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends are not locked
    fcntl = None  # type: ignore[assignment]

from lswag_plugin.compare._strategies import RUNNERS, BudgetSpent
from lswag_plugin.errors import CompareError, UnknownStrategy
from lswag_plugin.search._budget import Budget
from lswag_plugin.spaces import SearchSpace

__all__ = ["load_runs", "run_grid", "run_one"]

#: Evaluate ``archs`` → ``[(fitness, seconds charged), ...]``.
GridEvaluator = Callable[[Sequence[Any]], list[tuple[float, float]]]


def run_one(
    strategy: str,
    space: SearchSpace,
    evaluate: GridEvaluator,
    accuracy: Mapping[str, float],
    *,
    budget: int,
    seed: int,
) -> dict[str, Any]:
    """Runs one strategy with one evaluator; returns the run's record (trajectories included).

    The record has, per evaluation ``i`` (1-based, distinct architectures): ``best_acc[i-1]``, the table
    accuracy of the architecture with the best fitness among the first ``i`` (earliest among ties), and
    ``seconds[i-1]``, the cost so far: the strategy's own wall-clock time plus the scoring seconds charged
    by the evaluator (cache hits are charged what the score cost when it was computed).
    """
    if strategy not in RUNNERS:
        raise UnknownStrategy("strategy", strategy, RUNNERS)
    evaluated = Budget(space, budget)
    best: list[float] = []
    seconds: list[float] = []
    charged = [0.0]  # scoring seconds charged by the evaluator
    started = time.perf_counter()
    scoring = [0.0]  # wall time spent inside the evaluator (replaced by the charged seconds)

    def track(archs: Sequence[Any]) -> list[float]:
        if evaluated.left <= 0 and evaluated.unseen(archs):
            raise BudgetSpent
        new = evaluated.new(archs)
        if new:
            t0 = time.perf_counter()
            results = evaluate([space.decode(k) for k in new])
            scoring[0] += time.perf_counter() - t0
            for key, (fit, cost) in zip(new, results):
                if key not in accuracy:
                    raise CompareError(
                        f"architecture {key!r} is not in the accuracy table; use a full table"
                    )
                evaluated.add(key, fit)
                charged[0] += cost
                best.append(float(accuracy[evaluated.best_key]))
                own = time.perf_counter() - started - scoring[0]
                seconds.append(own + charged[0])
        return evaluated.fitness(archs)

    with contextlib.suppress(BudgetSpent):
        RUNNERS[strategy](space, track, budget=budget, seed=seed)
    return {
        "strategy": strategy,
        "seed": seed,
        "budget": budget,
        "evaluations": len(evaluated.scores),
        "best_arch": evaluated.best_key,
        "best_acc": best,
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - started,
    }


def load_runs(path: str | Path) -> list[dict[str, Any]]:
    """Returns the finished runs stored in ``path`` (JSON lines; a torn last line is ignored)."""
    path = Path(path)
    if not path.exists():
        return []
    runs = []
    for line in path.read_text().splitlines():
        try:
            runs.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a run killed mid-write: it is simply run again
    return runs


def _append_line(path: Path, line: str) -> None:
    """Appends one line under an exclusive lock (other worker processes append to the same file)."""
    with path.open("a+b") as fh:
        if fcntl is not None:
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            torn = False  # a peer killed mid-write leaves a line without its newline
            size = fh.seek(0, os.SEEK_END)
            if size:
                fh.seek(size - 1)
                torn = fh.read(1) != b"\n"
            fh.write((("\n" if torn else "") + line + "\n").encode())  # appends at the end
            fh.flush()
        finally:
            if fcntl is not None:
                fcntl.flock(fh, fcntl.LOCK_UN)


def run_grid(
    space: SearchSpace,
    evaluators: Mapping[str, GridEvaluator],
    accuracy: Mapping[str, float],
    *,
    strategies: Sequence[str],
    seeds: Sequence[int],
    budget: int,
    runs_path: str | Path,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    shard: tuple[int, int] = (0, 1),
) -> list[dict[str, Any]]:
    """Runs every (seed, strategy, evaluator) not yet in ``runs_path`` and appends it there.

    Seeds are the outer loop, so an interrupted grid has whole seeds done first. With ``shard=(i, n)``
    only the (seed, strategy) groups whose position in that order is ``i`` modulo ``n`` run here: ``n``
    processes sharing one score cache and one ``runs_path`` (appends are locked) split the grid, and
    the evaluators of a group run in one process, so they reuse each other's cached cells.

    Returns:
        Every run of the grid (stored and new) for these strategies, evaluators, seeds and budget.
    """
    for name in strategies:
        if name not in RUNNERS:
            raise UnknownStrategy("strategy", name, RUNNERS)
    path = Path(runs_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index, count = shard
    if not 0 <= index < count:
        raise CompareError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    done = {(r["strategy"], r["evaluator"], r["seed"], r["budget"]) for r in load_runs(path)}
    groups = [(seed, strategy) for seed in seeds for strategy in strategies]
    for seed, strategy in groups[index::count]:
        for name, evaluate in evaluators.items():
            if (strategy, name, seed, budget) in done:
                continue
            record = run_one(strategy, space, evaluate, accuracy, budget=budget, seed=seed)
            record["evaluator"] = name
            _append_line(path, json.dumps(record))
            done.add((strategy, name, seed, budget))
            if on_run is not None:
                on_run(record)
    wanted = set(strategies), set(evaluators), set(seeds)
    return [
        r
        for r in load_runs(path)
        if r["budget"] == budget
        and r["strategy"] in wanted[0]
        and r["evaluator"] in wanted[1]
        and r["seed"] in wanted[2]
    ]
