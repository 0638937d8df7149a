"""The comparison grid: strategies × evaluators × seeds under one budget, resumable from a JSON-lines file.

One pipeline, two modes (``mode``):

- :data:`EVALUATIONS`: a budget of distinct evaluations; every evaluation is a zero-cost score or an
  oracle look-up, charged its cost. Training-only strategies, each with every evaluator.
- :data:`TRAININGS`: a budget of distinct *trained* evaluations (``train``); zero-cost scores of the
  hybrids' ``screen`` are free in the count, and their seconds are charged. Training-only strategies
  run once per seed (evaluator :data:`NO_PROXY`), hybrids once per zero-cost evaluator.
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
from lswag_plugin.errors import BudgetSpent, CompareError
from lswag_plugin.search import StrategySpec, strategy_spec
from lswag_plugin.search._budget import Budget
from lswag_plugin.spaces import PoolSpace, SearchSpace

__all__ = [
    "EVALUATIONS",
    "MODES",
    "NO_PROXY",
    "TRAININGS",
    "check_strategies",
    "load_runs",
    "run_grid",
    "run_one",
]

#: A budget of distinct evaluations (every evaluation counts and is charged).
EVALUATIONS = "evaluations"
#: A budget of distinct trainings (zero-cost screening is free in the count, charged in seconds).
TRAININGS = "trainings"
MODES = (EVALUATIONS, TRAININGS)
#: The evaluator name of a training-only run (no zero-cost score).
NO_PROXY = "none"

#: Evaluate ``archs`` → ``[(fitness, seconds charged), ...]``.
GridEvaluator = Callable[[Sequence[Any]], list[tuple[float, float]]]
Track = Callable[[Sequence[Any]], list[float]]


def _pool(space: SearchSpace) -> str | None:
    """The fingerprint of a pool-restricted space (stored in its runs), None for a full space."""
    return space.fingerprint() if isinstance(space, PoolSpace) else None


def _with_pool(record: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    pool = _pool(space)
    if pool is not None:  # runs on a full space keep their fields as they were
        record["pool"] = pool
    return record


def _check_mode(mode: str) -> str:
    if mode not in MODES:
        raise CompareError(f"mode must be {EVALUATIONS!r} or {TRAININGS!r}, got {mode!r}")
    return mode


def check_strategies(names: Sequence[str], mode: str) -> list[StrategySpec]:
    """Returns the specs of ``names``; hybrids run only under a budget of trainings.

    Raises:
        UnknownStrategy: A name is not registered (the message lists the names).
        CompareError: A hybrid in mode :data:`EVALUATIONS`.
    """
    specs = [strategy_spec(name) for name in names]
    for spec in specs:
        if spec.needs_proxy and _check_mode(mode) == EVALUATIONS:
            raise CompareError(
                f"the hybrid strategy {spec.name!r} spends a budget of trainings: run it with "
                f"mode={TRAININGS!r} (lswag compare --trainings)"
            )
    return specs


class _Trajectory:
    """One run's book-keeping: counted evaluations (under the budget), free screens, charged seconds."""

    def __init__(
        self,
        space: SearchSpace,
        accuracy: Mapping[str, float],
        budget: int,
        *,
        charge_counted: bool,
    ) -> None:
        self.space, self.accuracy, self.charge_counted = space, accuracy, charge_counted
        self.counted = Budget(space, budget)
        self.screened = Budget(space, sys.maxsize)
        self.best: list[float] = []
        self.counts: list[int] = []
        self.zc_seconds: list[float] = []
        self.seconds: list[float] = []
        self.charged = 0.0  # seconds charged by the evaluators
        self.charged_zc = 0.0  # of which by the zero-cost screen
        self.inside = 0.0  # wall time inside the evaluators (replaced by the charged seconds)
        self.started = time.perf_counter()

    def _call(self, evaluate: GridEvaluator, keys: list[str]) -> list[tuple[float, float]]:
        t0 = time.perf_counter()
        results = list(evaluate([self.space.decode(k) for k in keys]))
        self.inside += time.perf_counter() - t0
        if len(results) != len(keys):
            raise CompareError(f"an evaluator returned {len(results)} results for {len(keys)}")
        return results

    def counter(self, evaluate: GridEvaluator) -> Track:
        """Returns the strategy's counted evaluator (raises BudgetSpent past the budget)."""

        def track(archs: Sequence[Any]) -> list[float]:
            counted = self.counted
            if counted.left <= 0 and counted.unseen(archs):
                raise BudgetSpent
            new = counted.new(archs)
            if new:
                for key, (fit, cost) in zip(new, self._call(evaluate, new)):
                    if key not in self.accuracy:
                        raise not_in_table(key)
                    counted.add(key, fit)
                    if self.charge_counted:
                        self.charged += cost
                    self.best.append(float(self.accuracy[counted.best_key]))
                    self.counts.append(len(self.screened.scores))
                    self.zc_seconds.append(self.charged_zc)
                    own = time.perf_counter() - self.started - self.inside
                    self.seconds.append(own + self.charged)
            return counted.fitness(archs)

        return track

    def screener(self, evaluate: GridEvaluator) -> Track:
        """Returns the hybrid's zero-cost evaluator (each architecture scored once, charged its cost)."""

        def screen(archs: Sequence[Any]) -> list[float]:
            new = self.screened.unseen(archs)
            if new:
                for key, (fit, cost) in zip(new, self._call(evaluate, new)):
                    self.screened.add(key, fit)
                    self.charged += cost
                    self.charged_zc += cost
            return self.screened.fitness(archs)

        return screen


def run_one(
    strategy: str,
    space: SearchSpace,
    evaluate: GridEvaluator,
    accuracy: Mapping[str, float],
    *,
    budget: int,
    seed: int,
    mode: str = EVALUATIONS,
    screen: GridEvaluator | None = None,
    options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Runs one strategy; returns the run's record (trajectories included).

    ``evaluate`` is the counted evaluation: in mode :data:`EVALUATIONS` a zero-cost score or the table
    oracle, each distinct architecture counted and charged the seconds the evaluator reports; in mode
    :data:`TRAININGS` the trained evaluation (e.g. a :class:`TableOracle` of the validation accuracy),
    counted and not charged (a table look-up is not a training). A hybrid strategy (mode
    :data:`TRAININGS` only) also gets ``screen``, a zero-cost evaluator whose calls do not count: each
    architecture is scored once and charged the seconds it reports. ``options`` override the
    strategy's registered defaults (mode :data:`TRAININGS`; stored in the record).

    The record has, after each counted evaluation ``i`` (1-based): ``best_acc[i-1]``, the ``accuracy``
    (the report's target) of the architecture with the best counted fitness so far (earliest among
    ties); ``seconds[i-1]``, the strategy's own wall-clock time plus the charged seconds. In mode
    :data:`TRAININGS` also ``screened[i-1]``, distinct zero-cost evaluations so far, and
    ``zc_seconds[i-1]``, their charged seconds.

    Raises:
        UnknownStrategy: ``strategy`` is not registered.
        CompareError: A hybrid without ``screen`` or in mode :data:`EVALUATIONS`, or options in mode
            :data:`EVALUATIONS`.
    """
    (spec,) = check_strategies([strategy], mode)
    if mode == EVALUATIONS and options:
        raise CompareError(f"options are for mode {TRAININGS!r} runs, got {dict(options)}")
    if spec.needs_proxy and screen is None:
        raise CompareError(f"the hybrid strategy {strategy!r} needs a zero-cost evaluator (screen)")
    run = _Trajectory(space, accuracy, budget, charge_counted=mode == EVALUATIONS)
    built = spec.build(**(options or {}))
    with contextlib.suppress(BudgetSpent):
        if spec.needs_proxy:
            built.search(
                space,
                run.counter(evaluate),
                run.screener(screen),  # type: ignore[arg-type]
                trainings=budget,
                seed=seed,
            )
        else:
            built.search(space, run.counter(evaluate), budget=budget, seed=seed)
    wall = time.perf_counter() - run.started
    if mode == EVALUATIONS:
        record = {
            "strategy": strategy,
            "seed": seed,
            "budget": budget,
            "evaluations": len(run.counted.scores),
            "best_arch": run.counted.best_key,
            "best_acc": run.best,
            "seconds": run.seconds,
            "wall_seconds": wall,
        }
    else:
        record = {
            "mode": TRAININGS,
            "strategy": strategy,
            "seed": seed,
            "budget": budget,
            "trainings": len(run.counted.scores),
            "options": dict(options or {}),
            "best_arch": run.counted.best_key,
            "best_acc": run.best,
            "screened": run.counts,
            "zc_seconds": run.zc_seconds,
            "seconds": run.seconds,
            "screened_total": len(run.screened.scores),
            "wall_seconds": wall,
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


def _run_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """What makes a stored run the same run (its mode, strategy, evaluator, seed, budget, settings)."""
    mode = record.get("mode", EVALUATIONS)
    key = (mode, record["strategy"], record["evaluator"], record["seed"], record["budget"])
    if mode == EVALUATIONS:
        return (*key, record.get("pool"))
    options = json.dumps(record.get("options") or {}, sort_keys=True)
    return (*key, record.get("train_metric"), record.get("target"), options, record.get("pool"))


def run_grid(
    space: SearchSpace,
    evaluators: Mapping[str, GridEvaluator],
    accuracy: Mapping[str, float],
    *,
    strategies: Sequence[str],
    seeds: Sequence[int],
    budget: int,
    runs_path: str | Path,
    mode: str = EVALUATIONS,
    train: GridEvaluator | None = None,
    train_metric: str | None = None,
    target: str | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
    shard: tuple[int, int] = (0, 1),
    stored_only: bool = False,
) -> list[dict[str, Any]]:
    """Runs every (seed, strategy, evaluator) not yet in ``runs_path`` and appends it there.

    Mode :data:`EVALUATIONS`: every strategy runs with every evaluator of ``evaluators`` as its
    counted evaluation. Mode :data:`TRAININGS`: ``train`` is the counted evaluation; training-only
    strategies run once per seed (evaluator :data:`NO_PROXY`), hybrids once per zero-cost evaluator of
    ``evaluators`` (their screen); ``options`` maps a strategy to keyword arguments overriding its
    defaults, and ``train_metric``/``target`` name the table columns (stored in the record; with the
    options, part of what makes a run already done). Every strategy is anytime (its first ``t``
    trainings do not depend on the budget), so one run with the largest budget gives every smaller one.

    Seeds are the outer loop, so an interrupted grid has whole seeds done first. With ``shard=(i, n)``
    only the (seed, strategy) groups whose position in that order is ``i`` modulo ``n`` run here: ``n``
    processes sharing one score cache and one ``runs_path`` (appends are locked) split the grid, and
    the evaluators of a group run in one process, so they reuse each other's cached cells. On a
    :class:`~lswag_plugin.spaces.PoolSpace` every run stores the pool's fingerprint (``pool``) and only
    runs on the same pool count as done. ``stored_only`` runs nothing (a report from the stored runs).

    Returns:
        Every run of this grid (stored and new).

    Raises:
        UnknownStrategy: A strategy is not registered.
        CompareError: A hybrid in mode :data:`EVALUATIONS`, no ``train`` in mode :data:`TRAININGS`,
            or a bad ``shard``.
    """
    specs = check_strategies(strategies, mode)
    if mode == TRAININGS and train is None:
        raise CompareError(f"mode {TRAININGS!r} needs the trained evaluation (train)")
    path = Path(runs_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    index, count = _check_shard(shard)
    options = options or {}
    meta = {} if mode == EVALUATIONS else {"train_metric": train_metric, "target": target}
    meta = _with_pool(meta, space)
    done = {_run_key(r) for r in load_runs(path) if r.get("mode", EVALUATIONS) == mode}
    wanted = set()
    groups = [(seed, spec) for seed in seeds for spec in specs]
    for position, (seed, spec) in enumerate(groups):
        hybrid = spec.needs_proxy
        names = list(evaluators) if mode == EVALUATIONS or hybrid else [NO_PROXY]
        opts = dict(options.get(spec.name, {})) if mode == TRAININGS else {}
        for name in names:
            base = {"strategy": spec.name, "evaluator": name, "seed": seed, "budget": budget}
            if mode == TRAININGS:
                base.update(mode=mode, options=opts)
            key = _run_key({**base, **meta})
            wanted.add(key)
            if stored_only or position % count != index or key in done:
                continue
            if mode == EVALUATIONS:
                record = run_one(
                    spec.name, space, evaluators[name], accuracy, budget=budget, seed=seed
                )
            else:
                record = run_one(
                    spec.name,
                    space,
                    train,  # type: ignore[arg-type]
                    accuracy,
                    budget=budget,
                    seed=seed,
                    mode=mode,
                    screen=evaluators.get(name) if hybrid else None,
                    options=opts,
                )
            record.update(evaluator=name, **meta)
            _append_line(path, json.dumps(record))
            done.add(key)
            if on_run is not None:
                on_run(record)
    return [
        r for r in load_runs(path) if r.get("mode", EVALUATIONS) == mode and _run_key(r) in wanted
    ]
