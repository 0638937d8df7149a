"""The comparison grid: strategies × evaluators × seeds under one budget, resumable from a JSON-lines file.

Two budgets: distinct *evaluations* (:func:`run_one`, :func:`run_grid`: every evaluation is a
zero-cost score or an oracle look-up), or *trainings* (:func:`run_trained`, :func:`run_trainings_grid`:
only trained evaluations count; zero-cost scores are free in the count, and their seconds are charged).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: appends are not locked
    fcntl = None  # type: ignore[assignment]

from lswag_plugin.compare._evaluators import not_in_table
from lswag_plugin.compare._strategies import HYBRID_RUNNERS, RUNNERS, BudgetSpent
from lswag_plugin.errors import CompareError, UnknownStrategy
from lswag_plugin.search._budget import Budget
from lswag_plugin.spaces import PoolSpace, SearchSpace

__all__ = [
    "NO_PROXY",
    "load_runs",
    "run_grid",
    "run_one",
    "run_trained",
    "run_trainings_grid",
]

#: The evaluator name of a training-only run (no zero-cost score).
NO_PROXY = "none"

#: Evaluate ``archs`` → ``[(fitness, seconds charged), ...]``.
GridEvaluator = Callable[[Sequence[Any]], list[tuple[float, float]]]


def _pool(space: SearchSpace) -> str | None:
    """The fingerprint of a pool-restricted space (stored in its runs), None for a full space."""
    return space.fingerprint() if isinstance(space, PoolSpace) else None


def _with_pool(record: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    pool = _pool(space)
    if pool is not None:  # runs on a full space keep their fields as they were
        record["pool"] = pool
    return record


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
                    raise not_in_table(key)
                evaluated.add(key, fit)
                charged[0] += cost
                best.append(float(accuracy[evaluated.best_key]))
                own = time.perf_counter() - started - scoring[0]
                seconds.append(own + charged[0])
        return evaluated.fitness(archs)

    with contextlib.suppress(BudgetSpent):
        RUNNERS[strategy](space, track, budget=budget, seed=seed)
    record = {
        "strategy": strategy,
        "seed": seed,
        "budget": budget,
        "evaluations": len(evaluated.scores),
        "best_arch": evaluated.best_key,
        "best_acc": best,
        "seconds": seconds,
        "wall_seconds": time.perf_counter() - started,
    }
    return _with_pool(record, space)


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


def _check_shard(shard: tuple[int, int]) -> tuple[int, int]:
    index, count = shard
    if not 0 <= index < count:
        raise CompareError(f"shard must be (i, n) with 0 <= i < n, got {shard}")
    return index, count


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
    On a :class:`~lswag_plugin.spaces.PoolSpace` every run stores the pool's fingerprint (``pool``)
    and only runs on the same pool count as done.

    Returns:
        Every run of the grid (stored and new) for these strategies, evaluators, seeds and budget.
    """
    for name in strategies:
        if name not in RUNNERS:
            raise UnknownStrategy("strategy", name, RUNNERS)
    path = Path(runs_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index, count = _check_shard(shard)
    pool = _pool(space)
    done = {
        (r["strategy"], r["evaluator"], r["seed"], r["budget"])
        for r in load_runs(path)
        if r.get("mode", "evaluations") == "evaluations" and r.get("pool") == pool
    }
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
        if r.get("mode", "evaluations") == "evaluations"
        and r.get("pool") == pool
        and r["budget"] == budget
        and r["strategy"] in wanted[0]
        and r["evaluator"] in wanted[1]
        and r["seed"] in wanted[2]
    ]


def run_trained(
    strategy: str,
    space: SearchSpace,
    train: GridEvaluator,
    accuracy: Mapping[str, float],
    *,
    trainings: int,
    seed: int,
    screen: GridEvaluator | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs one strategy under a budget of ``trainings`` distinct trained evaluations; returns its record.

    ``train`` is the trained evaluation (e.g. a :class:`TableOracle` of the validation accuracy).
    Training-only strategies (:data:`RUNNERS`) get it as their only evaluator; hybrid strategies
    (:data:`HYBRID_RUNNERS`) also get ``screen``, a zero-cost evaluator whose calls do not count as
    trainings: each architecture is scored once and charged the seconds the evaluator reports.

    The record has, after each training ``i`` (1-based): ``best_acc[i-1]``, the ``accuracy`` (the
    report's target, e.g. test accuracy) of the cell with the best *trained* fitness so far (earliest
    among ties); ``screened[i-1]``, distinct zero-cost evaluations so far; ``zc_seconds[i-1]``, their
    charged seconds; ``seconds[i-1]``, those plus the strategy's own wall-clock time (the trainings'
    own time is not in it: a table look-up is not a training).
    """
    hybrid = strategy in HYBRID_RUNNERS
    if not hybrid and strategy not in RUNNERS:
        raise UnknownStrategy("strategy", strategy, {**RUNNERS, **HYBRID_RUNNERS})
    if hybrid and screen is None:
        raise CompareError(f"the hybrid strategy {strategy!r} needs a zero-cost evaluator (screen)")
    trained = Budget(space, trainings)
    screened = Budget(space, sys.maxsize)
    best: list[float] = []
    counts: list[int] = []
    zc_seconds: list[float] = []
    seconds: list[float] = []
    charged = [0.0]
    inside = [0.0]  # wall time inside the evaluators (replaced by the charged seconds)
    started = time.perf_counter()

    def call(evaluate: GridEvaluator, keys: list[str]) -> list[tuple[float, float]]:
        t0 = time.perf_counter()
        results = evaluate([space.decode(k) for k in keys])
        inside[0] += time.perf_counter() - t0
        if len(results) != len(keys):
            raise CompareError(f"an evaluator returned {len(results)} results for {len(keys)}")
        return list(results)

    def train_track(archs: Sequence[Any]) -> list[float]:
        if trained.left <= 0 and trained.unseen(archs):
            raise BudgetSpent
        new = trained.new(archs)
        if new:
            for key, (fit, _) in zip(new, call(train, new)):
                if key not in accuracy:
                    raise not_in_table(key)
                trained.add(key, fit)
                best.append(float(accuracy[trained.best_key]))
                counts.append(len(screened.scores))
                zc_seconds.append(charged[0])
                seconds.append(time.perf_counter() - started - inside[0] + charged[0])
        return trained.fitness(archs)

    def screen_track(archs: Sequence[Any]) -> list[float]:
        new = screened.unseen(archs)
        if new:
            for key, (fit, cost) in zip(new, call(screen, new)):  # type: ignore[arg-type]
                screened.add(key, fit)
                charged[0] += cost
        return screened.fitness(archs)

    with contextlib.suppress(BudgetSpent):
        if hybrid:
            HYBRID_RUNNERS[strategy](
                space, train_track, screen_track, trainings=trainings, seed=seed, **(options or {})
            )
        else:
            RUNNERS[strategy](space, train_track, budget=trainings, seed=seed)
    record = {
        "mode": "trainings",
        "strategy": strategy,
        "seed": seed,
        "budget": trainings,
        "trainings": len(trained.scores),
        "options": dict(options or {}),
        "best_arch": trained.best_key,
        "best_acc": best,
        "screened": counts,
        "zc_seconds": zc_seconds,
        "seconds": seconds,
        "screened_total": len(screened.scores),
        "wall_seconds": time.perf_counter() - started,
    }
    return _with_pool(record, space)


def _trainings_key(r: Mapping[str, Any]) -> tuple[Any, ...]:
    options = json.dumps(r.get("options") or {}, sort_keys=True)
    return (
        r["strategy"],
        r["evaluator"],
        r["seed"],
        r["budget"],
        r.get("train_metric"),
        r.get("target"),
        options,
        r.get("pool"),
    )


def run_trainings_grid(
    space: SearchSpace,
    train: GridEvaluator,
    screens: Mapping[str, GridEvaluator],
    accuracy: Mapping[str, float],
    *,
    strategies: Sequence[str],
    seeds: Sequence[int],
    trainings: int,
    runs_path: str | Path,
    train_metric: str,
    target: str,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    shard: tuple[int, int] = (0, 1),
    stored_only: bool = False,
) -> list[dict[str, Any]]:
    """Runs every (seed, strategy, proxy) under a budget of trainings not yet in ``runs_path``.

    Training-only strategies run once per seed (evaluator :data:`NO_PROXY`); hybrid strategies run
    once per zero-cost evaluator in ``screens``. Every strategy is anytime (its first ``t`` trainings
    do not depend on the budget), so one run with the largest budget gives every smaller one.
    ``options`` maps a hybrid strategy to keyword arguments overriding its defaults (stored in the
    record and part of what makes a run already done). Seeds are the outer loop; ``shard`` as in
    :func:`run_grid`; ``stored_only`` runs nothing (a report from the stored runs).

    Returns:
        Every run of this grid (stored and new).
    """
    for name in strategies:
        if name not in RUNNERS and name not in HYBRID_RUNNERS:
            raise UnknownStrategy("strategy", name, {**RUNNERS, **HYBRID_RUNNERS})
    path = Path(runs_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index, count = _check_shard(shard)
    options = options or {}
    meta = _with_pool({"train_metric": train_metric, "target": target}, space)
    done = {_trainings_key(r) for r in load_runs(path) if r.get("mode") == "trainings"}
    wanted = set()
    groups = [(seed, strategy) for seed in seeds for strategy in strategies]
    for position, (seed, strategy) in enumerate(groups):
        names = list(screens) if strategy in HYBRID_RUNNERS else [NO_PROXY]
        opts = dict(options.get(strategy, {})) if strategy in HYBRID_RUNNERS else {}
        for name in names:
            base = {"strategy": strategy, "evaluator": name, "seed": seed, "budget": trainings}
            key = _trainings_key({**base, **meta, "options": opts})
            wanted.add(key)
            if stored_only or position % count != index or key in done:
                continue
            record = run_trained(
                strategy,
                space,
                train,
                accuracy,
                trainings=trainings,
                seed=seed,
                screen=screens.get(name),
                options=opts,
            )
            record.update(evaluator=name, **meta)
            _append_line(path, json.dumps(record))
            done.add(key)
            if on_run is not None:
                on_run(record)
    return [
        r for r in load_runs(path) if r.get("mode") == "trainings" and _trainings_key(r) in wanted
    ]
