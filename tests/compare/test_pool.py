"""Pool-restricted search (PoolSpace, ``lswag compare --pool table``): strategies visit table cells only."""

from __future__ import annotations

import csv
import json

import numpy as np
import optuna
import pytest

from lswag_plugin.cli import main
from lswag_plugin.compare import TableOracle, run_one
from lswag_plugin.optuna import suggest_architecture
from lswag_plugin.search import available_strategies, strategy_spec
from lswag_plugin.spaces import PoolSpace, get_space

optuna.logging.set_verbosity(optuna.logging.WARNING)

NB201 = get_space("nb201")
#: A made-up partial table: 60 NB201 cells (a fixed random choice), as NB101/NB301 tables are partial.
CELLS = [
    NB201.all_archs()[int(i)] for i in np.random.default_rng(7).choice(15625, 60, replace=False)
]
VALID = {a: 80.0 + 2.0 * a.count("nor_conv_3x3") + 0.5 * a.count("nor_conv_1x1") for a in CELLS}
TEST = {a: v + 0.25 * a.endswith("skip_connect~2|") for a, v in VALID.items()}
ZERO_COST = {a: a.count("nor_conv_3x3") + 0.1 * a.count("nor_conv_1x1") for a in CELLS}
FAST = {
    "screen-random": {"pool": 30},
    "screen-evolution": {"pool": 30},
    "zc-local": {"pool": 20},
}
#: NB101's mutate needs prob > 0; zc-local's default (0) becomes 0.001, whose draws repeat until
#: something changes (about 50 ms a mutation): the tests use 0.2.
FAST_NB101 = {**FAST, "zc-local": {"pool": 20, "mutation_prob": 0.2}}


class Lookup:
    """A table look-up that fails on a cell outside the table and records every call."""

    def __init__(self, space, table):
        self.space, self.table = space, table
        self.calls: list[str] = []

    def __call__(self, archs):
        keys = [self.space.encode(a) for a in archs]
        self.calls.extend(keys)
        return [(self.table[k], 0.0) for k in keys]  # KeyError outside the table


def _pool_run(strategy, space, train_table, test_table, zc_table, *, trainings, seed, fast=FAST):
    pool = PoolSpace(space, list(train_table))
    train, screen = Lookup(space, train_table), Lookup(space, zc_table)
    hybrid = strategy_spec(strategy).needs_proxy
    record = run_one(
        strategy,
        pool,
        train,
        test_table,
        budget=trainings,
        seed=seed,
        mode="trainings",
        screen=screen if hybrid else None,
        options=fast.get(strategy) if hybrid else None,
    )
    return record, train.calls, screen.calls


def test_pool_space_samples_mutates_and_crosses_over_within_the_pool():
    pool = PoolSpace(NB201, CELLS + CELLS[:5])  # duplicates collapse
    assert len(pool) == 60 and pool.keys == sorted(CELLS)
    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = pool.sample(rng), pool.sample(rng)
        child = pool.mutate(a, rng)
        assert pool.contains(child) and child != a  # a mutation always moves
        cross = pool.crossover(a, b, rng)
        assert pool.contains(cross) and (a == b or cross not in (a, b))
    outside = next(a for a in NB201.all_archs() if a not in VALID)
    d = pool.distances(outside)
    nearest = pool.nearest(outside)
    assert d[pool.keys.index(nearest)] == d.min() > 0
    assert pool.nearest(outside) == nearest  # deterministic, no random state
    assert pool.nearest(CELLS[3]) == CELLS[3]
    assert pool.encode(CELLS[0]) == NB201.encode(CELLS[0]) and pool.name == "nb201"


def test_nearest_is_the_hamming_distance_of_the_edge_ops():
    pool = PoolSpace(NB201, [
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|none~2|",
    ])  # fmt: skip
    query = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|none~0|none~1|none~2|"
    assert pool.distances(query).tolist() == [3, 2]
    assert pool.nearest(query) == pool.keys[1]
    assert pool.nearest(query, exclude=[pool.keys[1]]) == pool.keys[0]


@pytest.mark.parametrize(
    "strategy",
    sorted(available_strategies(needs_proxy=False))
    + sorted(available_strategies(needs_proxy=True)),
)
def test_every_strategy_trains_and_screens_table_cells_only_and_is_deterministic(strategy):
    record, trained, screened = _pool_run(
        strategy, NB201, VALID, TEST, ZERO_COST, trainings=10, seed=2
    )
    assert record["trainings"] == 10 == len(set(trained))
    assert set(trained) <= set(VALID) and set(screened) <= set(VALID)
    assert record["pool"] == PoolSpace(NB201, CELLS).fingerprint()
    again, trained_again, screened_again = _pool_run(
        strategy, NB201, VALID, TEST, ZERO_COST, trainings=10, seed=2
    )
    assert (trained_again, screened_again) == (trained, screened)
    assert again["best_acc"] == record["best_acc"]


@pytest.mark.parametrize("strategy", ["random", "evolution", "optuna-tpe", "optuna-nsga2"])
def test_evaluation_budget_runs_visit_table_cells_only(strategy):
    pool = PoolSpace(NB201, CELLS)
    oracle = Lookup(NB201, VALID)
    record = run_one(strategy, pool, oracle, TEST, budget=25, seed=1)
    assert record["evaluations"] == 25 == len(set(oracle.calls))
    assert set(oracle.calls) <= set(VALID)


@pytest.mark.parametrize(
    "strategy",
    ["random", "evolution", "optuna-tpe", "optuna-nsga2", "zc-local", "screen-evolution",
     "prescreen-tpe", "pruner-tpe"],
)  # fmt: skip
@pytest.mark.parametrize("space_name", ["nb101", "darts"])
def test_strategies_stay_in_a_pool_of_sampled_nb101_and_darts_cells(space_name, strategy):
    space = get_space(space_name)
    rng = np.random.default_rng(0)
    keys = list(dict.fromkeys(space.encode(space.sample(rng)) for _ in range(40)))
    valid = {k: float(len(k) % 17) for k in keys}
    zero_cost = {k: float(len(k) % 5) for k in keys}
    record, trained, screened = _pool_run(
        strategy, space, valid, valid, zero_cost, trainings=8, seed=0, fast=FAST_NB101
    )
    assert record["trainings"] == 8
    assert set(trained) <= set(keys) and set(screened) <= set(keys)


def test_optuna_suggests_the_nearest_pool_member():
    pool = PoolSpace(NB201, CELLS)
    params = {
        f"edge_{i}_{j}": "nor_conv_3x3" for i, j in [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)]
    }
    arch = suggest_architecture(optuna.trial.FixedTrial(params), pool)
    assert arch == pool.nearest(
        "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    )
    assert arch in VALID


def _table(tmp_path, cells=CELLS):
    path = tmp_path / "partial.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str", "valid", "test", "zc"])
        for arch in cells:
            writer.writerow([arch, VALID[arch], TEST[arch], ZERO_COST[arch]])
    return path


def test_cli_trainings_on_a_partial_table_needs_the_pool_and_prints_at_trainings(tmp_path, capsys):
    common = [
        "compare", "--table", str(_table(tmp_path)), "--target", "test", "--train-metric", "valid",
        "--trainings", "3,6", "--seeds", "0-1", "--strategies", "random,evolution,zc-local",
        "--evaluators", "column:zc", "--hybrid-options", '{"zc-local": {"pool": 20}}', "--json",
        "--quiet",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "full")]) == 2  # a cell outside the table
    assert "not in the accuracy table" in capsys.readouterr().err
    out = tmp_path / "pool"
    args = [*common, "--out", str(out), "--pool", "table"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["runs"] == 6
    assert set(first["at_trainings"]) == {"3", "6"}
    assert first["at_trainings"]["6"]["best_hybrid"]["name"] == "zc-local/column:zc"
    runs = [json.loads(line) for line in (out / "runs.jsonl").read_text().splitlines()]
    assert all(r["best_arch"] in VALID and r["pool"].startswith("60-") for r in runs)
    report = (out / "report.md").read_text()
    assert "Pool-restricted search" in report and "60 distinct architectures" in report
    assert main(args) == 0  # a rerun: every run is stored
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == first
    assert len((out / "runs.jsonl").read_text().splitlines()) == 6


def test_cli_evaluations_with_the_pool_and_a_budget_above_the_pool(tmp_path, capsys):
    common = [
        "compare", "--table", str(_table(tmp_path)), "--target", "test", "--seeds", "0-0",
        "--strategies", "random,evolution,optuna-tpe", "--evaluators", "oracle,column:zc",
        "--pool", "table", "--json", "--quiet",
    ]  # fmt: skip
    assert main([*common, "--budget", "12", "--out", str(tmp_path / "a")]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["runs"] == 6
    for line in (tmp_path / "a" / "runs.jsonl").read_text().splitlines():
        record = json.loads(line)
        assert record["evaluations"] == 12 and record["best_arch"] in VALID
    assert main([*common, "--budget", "61", "--out", str(tmp_path / "b")]) == 2
    assert "the table's pool has 60" in capsys.readouterr().err


#: Made-up full table of the reference run below.
FULL = {
    a: 80.0
    + 2.0 * a.count("nor_conv_3x3")
    + 0.5 * a.count("nor_conv_1x1")
    + 0.25 * a.count("skip_connect~2")
    for a in NB201.all_archs()
}
#: Best arch and best-found accuracy (evaluations 1, 6, 11, 15) of each strategy, budget 15, seed 3,
#: recorded with the code before PoolSpace existed: a full space is searched as before.
REFERENCE = {
    "random": (
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        [80.0, 86.5, 86.5, 86.5],
    ),
    "evolution": (
        "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|none~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        [80.0, 86.5, 86.5, 86.5],
    ),
    "optuna-tpe": (
        "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        [80.0, 87.0, 87.0, 87.0],
    ),
    "optuna-nsga2": (
        "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_1x1~1|+|nor_conv_1x1~0|nor_conv_3x3~1|nor_conv_3x3~2|",
        [80.0, 87.0, 87.0, 87.0],
    ),
}


@pytest.mark.parametrize("strategy", sorted(REFERENCE))
def test_a_full_space_run_is_unchanged(strategy):
    record = run_one(strategy, NB201, TableOracle(NB201, FULL), FULL, budget=15, seed=3)
    best = record["best_acc"]
    assert (record["best_arch"], [*best[::5], best[-1]]) == REFERENCE[strategy]
    assert "pool" not in record
