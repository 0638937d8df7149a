"""``Comparison``: everything ``lswag compare`` does, as one object of the Python API.

It reads the table, restricts the space to the table's pool (``pool="table"``: :func:`pool_space`),
builds the evaluators from their names (registered proxies, ``oracle``, ``column:NAME``:
:func:`column_evaluators`), runs the grid (in worker processes if asked) and writes the report of its
mode; the command line only parses its flags into one.
"""

from __future__ import annotations

import json
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from lswag_plugin.cache import ScoreCache
from lswag_plugin.compare._evaluators import TableOracle, ZeroCostGrid
from lswag_plugin.compare._report import (
    at_trainings,
    plot_regret,
    plot_runs,
    summary,
    write_markdown,
)
from lswag_plugin.compare._run import (
    EVALUATIONS,
    TRAININGS,
    _check_mode,
    check_strategies,
    run_grid,
)
from lswag_plugin.engine import ScoringConfig
from lswag_plugin.errors import CompareError, UnknownStrategy
from lswag_plugin.search import available_strategies, strategy_spec
from lswag_plugin.spaces import PoolSpace, SearchSpace, get_space

__all__ = [
    "COLUMN",
    "DEFAULT_EVALUATORS",
    "ORACLE",
    "Comparison",
    "column_evaluators",
    "default_strategies",
    "pool_space",
    "table_column",
]

#: The evaluator name of the table's trained accuracy.
ORACLE = "oracle"
#: Prefix of an evaluator that reads a precomputed score from a table column (``column:NAME``).
COLUMN = "column:"

#: The evaluators of a mode when none are named.
DEFAULT_EVALUATORS: dict[str, tuple[str, ...]] = {
    EVALUATIONS: ("lswag", "nwot", "params", ORACLE),
    TRAININGS: ("meco",),
}


def default_strategies(mode: str) -> list[str]:
    """Returns the strategies a mode runs when none are named: every training-only one, and in mode
    ``"trainings"`` every hybrid too (registration order within a host)."""
    return available_strategies(needs_proxy=None if _check_mode(mode) == TRAININGS else False)


def _open_cache(cache: Any, needed: bool) -> ScoreCache | None:
    """The score cache ``cache`` names (``"auto"``: the user cache, a path, a ScoreCache or None); an
    in-memory one when zero-cost proxies are scored without one (one pass per cell still serves every
    proxy of the grid)."""
    if isinstance(cache, (str, Path)):
        cache = ScoreCache() if cache == "auto" else ScoreCache(cache)
    return ScoreCache(":memory:") if cache is None and needed else cache


def table_column(table: Any, space: SearchSpace, arch_column: str, column: str) -> dict[str, float]:
    """Returns canonical key → value of ``column`` for the table's rows that have one.

    ``table`` is a :class:`~lswag_plugin.bench.tables.Table` (``rows`` and ``require``).

    Raises:
        LswagError: The table lacks ``arch_column`` or ``column`` (the message lists its columns).
    """
    table.require(arch_column, column)
    return {
        space.encode(r[arch_column]): float(r[column])
        for r in table.rows
        if r.get(column) not in (None, "")
    }


def column_evaluators(
    names: Sequence[str], table: Any, space: SearchSpace, arch_column: str
) -> dict[str, TableOracle]:
    """Returns the evaluators ``column:NAME`` among ``names``: a table column looked up (charged 0 s)."""
    return {
        n: TableOracle(space, table_column(table, space, arch_column, n[len(COLUMN) :]), name=n)
        for n in names
        if n.startswith(COLUMN)
    }


def pool_space(
    space: SearchSpace,
    table: Any,
    columns: Sequence[str],
    *,
    arch_column: str,
    budget: int,
    source: str = "the table",
) -> tuple[PoolSpace, str]:
    """Returns ``space`` restricted to the rows with a value in every column, and the report's note.

    Args:
        space: The full space.
        table: The table (:class:`~lswag_plugin.bench.tables.Table`).
        columns: Every column the comparison reads (target, training metric, ``column:`` evaluators).
        arch_column: The architecture column.
        budget: Distinct architectures a run needs (the pool must hold at least that many).
        source: How messages name the table (its path).

    Raises:
        CompareError: No row has every column, or the pool is smaller than the budget.
    """
    keys: set[str] | None = None
    for column in dict.fromkeys(columns):
        values = set(table_column(table, space, arch_column, column))
        keys = values if keys is None else keys & values
    if not keys:
        raise CompareError(
            f"--pool table: no architecture of {source} has a value in every column read "
            f"({', '.join(dict.fromkeys(columns))})"
        )
    pool = PoolSpace(space, keys)
    if budget > len(pool):
        raise CompareError(
            f"--pool table: a run of {budget} distinct evaluations needs at least {budget} "
            f"architectures, the table's pool has {len(pool)}; lower the budget"
        )
    note = (
        f"Pool-restricted search (`--pool table`, pool {pool.fingerprint()}): every strategy "
        f"proposes only the {len(pool)} distinct architectures of the table with a value in "
        f"{', '.join(f'`{c}`' for c in dict.fromkeys(columns))}; results are over this pool, "
        "not the whole space."
    )
    return pool, note


def _run_shard(
    arguments: dict[str, Any],
    shard: tuple[int, int],
    on_run: Callable[[dict[str, Any]], None] | None,
) -> dict[str, int]:
    """A worker process: builds the comparison, runs its share of the grid, returns its counts."""
    config = arguments.get("config")
    if config is not None and config.threads:
        import torch

        torch.set_num_threads(config.threads)
    comparison = Comparison(**arguments)
    comparison.run(shard=shard, on_run=on_run)
    return comparison.counts


class Comparison:
    """Strategies × evaluators × seeds under one budget on a table of trained accuracies.

    Mode ``"evaluations"``: every strategy spends ``budget`` distinct evaluations with each evaluator
    (a registered proxy, ``"oracle"``: the table's ``target``, or ``"column:NAME"``: a precomputed
    score in the table); every proxy that needs passes is scored in one engine call per cell.
    Mode ``"trainings"``: a budget of ``max(at)`` trained evaluations (the table's ``train_metric``);
    training-only strategies against hybrids whose zero-cost proxy (each evaluator, scored alone;
    ``"oracle"`` there is the training metric itself) decides what is trained; the report gives the
    ``target`` accuracy of the best trained cell at each ``T`` in ``at``.

    Finished runs are appended to ``out/runs.jsonl`` (a rerun resumes; scores go through the cache);
    :meth:`report` writes ``out/report.md`` and the mode's plots.

    Args:
        space: A registered space name or a :class:`~lswag_plugin.spaces.SearchSpace`.
        table: The table's path (CSV/JSON, :func:`~lswag_plugin.bench.tables.read_table`) or a table.
        target: The accuracy column reported (e.g. ``"cifar10_test_acc"``).
        out: The output folder.
        mode: ``"evaluations"`` or ``"trainings"``.
        budget: Distinct evaluations per run (200), or trainings per run (default ``max(at)``).
        at: Mode ``"trainings"``: the numbers of trainings reported (default ``(budget,)``).
        seeds: Seeds of the runs (each strategy is deterministic given its seed).
        strategies: Registered strategy names (default :func:`default_strategies`).
        evaluators: Evaluator names (default :data:`DEFAULT_EVALUATORS` of the mode).
        arch_column: The table's architecture column.
        train_metric: Mode ``"trainings"``: the column a trained evaluation returns.
        options: Mode ``"trainings"``: hybrid strategy → options overriding its registered defaults.
        pool: ``"table"``: search only the architectures with a value in every column read (for
            tables of only some architectures, NAS-Bench-101/301); None: the whole space.
        config: The zero-cost scoring settings.
        cache: The score cache: a :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` (the user
            cache), a path, or None (zero-cost scores are then kept in memory for this run).

    Raises:
        UnknownStrategy: A strategy is not registered, or an option names no hybrid strategy.
        CompareError: The settings do not fit the mode, the table or the pool.

    Example:
        >>> import csv, tempfile
        >>> from pathlib import Path
        >>> from lswag_plugin.spaces import get_space
        >>> folder = Path(tempfile.mkdtemp())
        >>> with open(folder / "acc.csv", "w", newline="") as fh:
        ...     writer = csv.writer(fh)
        ...     _ = writer.writerow(["arch_str", "acc"])
        ...     writer.writerows([a, a.count("conv_3x3")] for a in get_space("nb201").all_archs())
        >>> comparison = Comparison("nb201", folder / "acc.csv", target="acc", out=folder / "out",
        ...                         budget=20, seeds=[0, 1], strategies=["random", "evolution"],
        ...                         evaluators=["oracle"], cache=None)
        >>> runs = comparison.run()
        >>> result = comparison.report(runs)
        >>> result["runs"], [(r["strategy"], r["seeds"]) for r in result["summary"]]
        (4, [('evolution', 2), ('random', 2)])
        >>> sorted(p.name for p in (folder / "out").iterdir())
        ['best_vs_evaluations.png', 'best_vs_seconds.png', 'report.md', 'runs.jsonl']
    """

    def __init__(
        self,
        space: SearchSpace | str,
        table: Any,
        *,
        target: str,
        out: str | Path,
        mode: str = EVALUATIONS,
        budget: int | None = None,
        at: Sequence[int] | None = None,
        seeds: Sequence[int] = range(5),
        strategies: Sequence[str] | None = None,
        evaluators: Sequence[str] | None = None,
        arch_column: str = "arch_str",
        train_metric: str = "cifar10_valid_acc",
        options: Mapping[str, Mapping[str, Any]] | None = None,
        pool: str | None = None,
        config: ScoringConfig | None = None,
        cache: Any = "auto",
    ) -> None:
        self._arguments = {
            "space": space,
            "table": table,
            "target": target,
            "out": out,
            "mode": mode,
            "budget": budget,
            "at": at,
            "seeds": seeds,
            "strategies": strategies,
            "evaluators": evaluators,
            "arch_column": arch_column,
            "train_metric": train_metric,
            "options": options,
            "pool": pool,
            "config": config,
            "cache": str(cache.path) if isinstance(cache, ScoreCache) else cache,
        }
        self.mode = _check_mode(mode)
        trainings = self.mode == TRAININGS
        if pool not in (None, "table"):
            raise CompareError(f"pool must be 'table' or None, got {pool!r}")
        if options and not trainings:
            raise CompareError(f"options are for mode {TRAININGS!r} (the hybrids' settings)")
        if trainings:
            at = sorted({int(t) for t in (at or ([budget] if budget else []))})
            if not at or at[0] < 1:
                raise CompareError("mode 'trainings' needs at= (numbers of trainings >= 1)")
            budget = max(at) if budget is None else budget
            if budget < max(at):
                raise CompareError(f"budget {budget} is below the largest T in at ({max(at)})")
        budget = 200 if budget is None else budget
        if int(budget) != budget or budget < 1:
            raise CompareError(f"budget must be a positive integer, got {budget}")
        self.budget, self.at = int(budget), list(at or [])
        self.space_name = space if isinstance(space, str) else space.name
        self.space = get_space(space) if isinstance(space, str) else space
        self.target, self.train_metric, self.arch_column = target, train_metric, arch_column
        self.out = Path(out)
        self.runs_path = self.out / "runs.jsonl"
        self.seeds = list(seeds)
        self.config = config if config is not None else ScoringConfig()
        self.strategies = list(strategies) if strategies else default_strategies(self.mode)
        specs = check_strategies(self.strategies, self.mode)
        for name in options or {}:
            if not strategy_spec(name).needs_proxy:
                raise UnknownStrategy(
                    "hybrid strategy", name, available_strategies(needs_proxy=True)
                )
        self.hybrids = any(spec.needs_proxy for spec in specs)
        #: Hybrid strategy → the options given for it (its defaults are applied by the registry).
        self.options = {
            spec.name: dict((options or {}).get(spec.name, {}))
            for spec in specs
            if spec.needs_proxy
        }
        names = list(evaluators) if evaluators else list(DEFAULT_EVALUATORS[self.mode])
        self.evaluator_names = names
        if isinstance(table, (str, Path)):
            from lswag_plugin.bench.tables import read_table

            self.table_source = str(table)
            table = read_table(table)
        else:
            self.table_source = "the table"
        accuracy = table_column(table, self.space, arch_column, target)
        columns = [target, train_metric] if trainings else [target]
        if self.hybrids or not trainings:
            columns += [n[len(COLUMN) :] for n in names if n.startswith(COLUMN)]
        self.searched, self.pool_notes = self.space, []
        if pool == "table":
            self.searched, note = pool_space(
                self.space,
                table,
                columns,
                arch_column=arch_column,
                budget=self.budget,
                source=self.table_source,
            )
            self.pool_notes = [note]
            accuracy = {k: accuracy[k] for k in self.searched.keys}
        #: Architecture key → the reported accuracy (of the pool's members on a pool).
        self.accuracy = accuracy
        zero_cost = [n for n in names if n != ORACLE and not n.startswith(COLUMN)]
        needed = bool(zero_cost) and (self.hybrids or not trainings)
        cache = _open_cache(cache, needed)
        columns_ = column_evaluators(names, table, self.space, arch_column)
        self.train: TableOracle | None = None
        if trainings:
            trained = table_column(table, self.space, arch_column, train_metric)
            # One grid per proxy: each is scored alone and charged its own seconds.
            self.grids = (
                [ZeroCostGrid(self.space, [p], cache=cache, config=config) for p in zero_cost]
                if self.hybrids
                else []
            )
            screens: dict[str, Any] = {p: g.evaluator(p) for p, g in zip(zero_cost, self.grids)}
            screens.update(columns_)
            self.train = TableOracle(self.space, trained, name=train_metric)
            if ORACLE in names:
                screens[ORACLE] = self.train
            #: Evaluator name → evaluator (mode "trainings": the hybrids' screens).
            self.evaluators = screens
        else:
            grid = (
                ZeroCostGrid(self.space, zero_cost, cache=cache, config=config)
                if zero_cost
                else None
            )
            self.grids = [grid] if grid is not None else []
            self.evaluators = {
                n: TableOracle(self.space, accuracy)
                if n == ORACLE
                else columns_[n]
                if n in columns_
                else grid.evaluator(n)  # type: ignore[union-attr]
                for n in names
            }
        self._worker_counts = {"computed": 0, "estimated": 0}
        self._workers = 1

    @property
    def counts(self) -> dict[str, int]:
        """Cells the engine scored for this comparison (worker processes included), and evaluations
        charged the median cost (a score cached without seconds)."""
        return {
            "computed": sum(sum(g.computed.values()) for g in self.grids)
            + self._worker_counts["computed"],
            "estimated": sum(g.estimated for g in self.grids) + self._worker_counts["estimated"],
        }

    def _grid(self, **kwargs: Any) -> list[dict[str, Any]]:
        grid = {"strategies": self.strategies, "seeds": self.seeds, "budget": self.budget}
        grid.update(
            runs_path=self.runs_path, mode=self.mode, train=self.train, options=self.options
        )
        if self.mode == TRAININGS:
            grid.update(train_metric=self.train_metric, target=self.target)
        return run_grid(self.searched, self.evaluators, self.accuracy, **grid, **kwargs)

    def run(
        self,
        *,
        workers: int = 1,
        on_run: Callable[[dict[str, Any]], None] | None = None,
        shard: tuple[int, int] = (0, 1),
    ) -> list[dict[str, Any]]:
        """Runs every run of the grid not yet stored; returns every run of the grid.

        Args:
            workers: Processes sharing the grid, the score cache and ``runs.jsonl`` (whole (seed,
                strategy) groups each; spawned, so a script that calls this needs an
                ``if __name__ == "__main__":`` guard). ``on_run`` must then be picklable (a
                module-level function).
            on_run: Called with each new run's record.
            shard: ``(i, n)``: run only this process's share of the grid.
        """
        if workers < 1:
            raise CompareError(f"workers must be >= 1, got {workers}")
        self._workers = workers
        if workers == 1:
            return self._grid(on_run=on_run, shard=shard)
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [
                pool.submit(_run_shard, self._arguments, (i, workers), on_run)
                for i in range(workers)
            ]
            for future in futures:
                for key, value in future.result().items():
                    self._worker_counts[key] += value
        return self.stored()

    def stored(self) -> list[dict[str, Any]]:
        """Returns the runs of the grid already in ``runs.jsonl`` (runs nothing)."""
        return self._grid(stored_only=True)

    def notes(self, *, workers: int | None = None) -> list[str]:
        """Returns the report's notes: the budget, the pool, the zero-cost scoring and its work.

        ``workers``: the processes that shared the grid (default: those of the last :meth:`run`).
        """
        seeds = ", ".join(map(str, self.seeds))
        if self.mode == TRAININGS:
            used = {s: strategy_spec(s).options(**o) for s, o in self.options.items()}
            notes = [
                f"Optimum of the table ({self.target}): {max(self.accuracy.values()):.2f}. A "
                f"trained evaluation returns the table's `{self.train_metric}`; the report is the "
                f"`{self.target}` of the cell with the best trained result. Every run trains "
                f"{self.budget} distinct cells; the value at T is its best after T trainings. "
                f"Seeds requested: {seeds}.",
                "Hybrid settings: "
                + "; ".join(f"{s} {json.dumps(o, sort_keys=True)}" for s, o in used.items())
                + ".",
            ]
        else:
            notes = [
                f"Optimum of the table: {max(self.accuracy.values()):.2f}. Budget: {self.budget} "
                f"distinct evaluations per run. Seeds requested: {seeds}."
            ]
        config = self.config
        notes += [
            *self.pool_notes,
            f"Zero-cost scoring: batch {config.batch_size} ({config.minibatches} minibatches) of "
            f"`{config.data or 'default photos'}`, score seed {config.seed}, device {config.device}, "
            f"{config.threads} torch thread(s).",
        ]
        if self.grids:
            counts = self.counts
            processes = self._workers if workers is None else workers
            shared = f" ({processes} worker processes)" if processes > 1 else ""
            notes.append(
                f"Cells scored by the engine in this invocation{shared}: {counts['computed']}; "
                "evaluations charged the median cost (score cached without seconds): "
                f"{counts['estimated']}."
            )
        return notes

    def title(self) -> str:
        """Returns the report's title."""
        pooled = " (table pool)" if self.searched is not self.space else ""
        if self.mode == TRAININGS:
            return (
                f"{self.space_name}{pooled}: best trained cell's {self.target} vs trainings "
                f"(a training returns {self.train_metric})"
            )
        return f"{self.space_name}{pooled} {self.target}: strategies × evaluators, budget {self.budget}"

    def report(
        self, runs: Sequence[dict[str, Any]], *, workers: int | None = None
    ) -> dict[str, Any]:
        """Writes the report of ``runs`` into the output folder; returns its JSON summary.

        Mode ``"evaluations"``: ``report.md``, ``best_vs_evaluations.png``, ``best_vs_seconds.png``.
        Mode ``"trainings"``: ``report.md``, ``regret_vs_trainings.png``.

        ``workers`` as in :meth:`notes`.

        Returns:
            ``{"out", "runs", "summary"}``, with ``"at_trainings"`` in mode ``"trainings"`` (the best
            hybrid and the best training-only strategy at each T).

        Raises:
            CompareError: ``runs`` is empty.
        """
        if not runs:
            raise CompareError(f"no finished runs in {self.runs_path}")
        title, optimum, at = self.title(), max(self.accuracy.values()), self.at
        notes = self.notes(workers=workers)
        markdown = {"title": title, "notes": notes, "mode": self.mode, "at": at, "optimum": optimum}
        write_markdown(runs, self.out / "report.md", **markdown)
        result = {"out": str(self.out), "runs": len(runs)}
        if self.mode == TRAININGS:
            plot_regret(
                runs, self.out / "regret_vs_trainings.png", optimum=optimum, title=title, marks=at
            )
            rows = summary(runs, mode=self.mode, at=at)
            return {**result, "summary": rows, "at_trainings": at_trainings(rows, at)}
        plot_runs(runs, self.out / "best_vs_evaluations.png", x="evaluations", title=title)
        plot_runs(runs, self.out / "best_vs_seconds.png", x="seconds", title=title)
        return {**result, "summary": summary(runs)}
