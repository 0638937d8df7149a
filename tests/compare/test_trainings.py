"""lswag compare with a budget of trainings: training-only strategies vs hybrids, report, JSON shape."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

from lswag_plugin.cli import main
from lswag_plugin.compare import (
    NO_PROXY,
    TRAININGS,
    CompareError,
    NNIScreenedEvolution,
    OptunaHybrid,
    TableOracle,
    at_trainings,
    load_runs,
    plot_regret,
    run_grid,
    run_one,
    summary,
    write_markdown,
)
from lswag_plugin.search import available_strategies, strategy_spec
from lswag_plugin.spaces import get_space
from lswag_plugin.spaces.nb201 import parse_arch

SPACE = get_space("nb201")
#: Made-up tables: the validation accuracy a training returns, and the test accuracy reported.
VALID = {
    a: 80.0 + 2.0 * a.count("nor_conv_3x3") + 0.5 * a.count("nor_conv_1x1")
    for a in SPACE.all_archs()
}
TEST = {a: v + 0.25 * (parse_arch(a)[3] == "skip_connect") for a, v in VALID.items()}
ZERO_COST = {a: a.count("nor_conv_3x3") + 0.1 * a.count("nor_conv_1x1") for a in VALID}


class Evaluator:
    """A table look-up charging ``cost`` seconds per cell, recording every call."""

    def __init__(self, table, cost=0.0):
        self.table, self.cost = table, cost
        self.calls: list[str] = []

    def __call__(self, archs):
        self.calls.extend(archs)
        return [(self.table[a], self.cost) for a in archs]


ALL = sorted(available_strategies(needs_proxy=False)) + sorted(
    available_strategies(needs_proxy=True)
)
FAST_OPTIONS = {"screen-random": {"pool": 200}, "zc-local": {"pool": 200}}


@pytest.mark.parametrize("strategy", ALL)
def test_every_strategy_trains_exactly_the_budget(strategy):
    train, screen = Evaluator(VALID), Evaluator(ZERO_COST, cost=0.5)
    hybrid = strategy_spec(strategy).needs_proxy
    record = run_one(
        strategy,
        SPACE,
        train,
        TEST,
        budget=12,
        mode=TRAININGS,
        seed=1,
        screen=screen if hybrid else None,
        options=FAST_OPTIONS.get(strategy),
    )
    assert record["trainings"] == 12 == len(train.calls) == len(set(train.calls))
    assert len(record["best_acc"]) == len(record["screened"]) == len(record["zc_seconds"]) == 12
    assert all(b >= a for a, b in zip(record["best_acc"], record["best_acc"][1:]))
    assert record["best_acc"][-1] == TEST[record["best_arch"]]
    assert record["best_arch"] == max(train.calls, key=lambda a: (VALID[a], -train.calls.index(a)))
    assert record["screened_total"] == len(screen.calls) == len(set(screen.calls))
    if hybrid:
        assert record["screened_total"] >= 12 and record["screened"][-1] <= len(screen.calls)
        assert record["zc_seconds"][-1] == 0.5 * record["screened"][-1]  # charged, not timed
    else:
        assert screen.calls == [] and record["screened"] == [0] * 12


@pytest.mark.parametrize("strategy", ALL)
def test_every_strategy_is_anytime(strategy):
    screen = Evaluator(ZERO_COST) if strategy_spec(strategy).needs_proxy else None
    kwargs = {"seed": 4, "screen": screen, "options": FAST_OPTIONS.get(strategy), "mode": TRAININGS}
    short = run_one(strategy, SPACE, Evaluator(VALID), TEST, budget=6, **kwargs)
    long = run_one(strategy, SPACE, Evaluator(VALID), TEST, budget=15, **kwargs)
    assert long["best_acc"][:6] == short["best_acc"]


def test_a_hybrid_with_the_oracle_as_proxy_trains_the_tables_top_cells():
    train, screen = Evaluator(VALID), Evaluator(VALID)
    run_one(
        "screen-random",
        SPACE,
        train,
        TEST,
        budget=5,
        mode=TRAININGS,
        seed=0,
        screen=screen,
        options={"pool": 15625},
    )
    ranked = sorted(screen.calls, key=lambda a: -VALID[a])  # every cell, stable among ties
    assert len(set(screen.calls)) > 15000
    assert train.calls == ranked[:5]
    assert VALID[train.calls[0]] == max(VALID.values())


def test_pruned_trials_are_not_trained_and_do_not_count():
    train, screen = Evaluator(VALID), Evaluator(ZERO_COST)
    record = run_one(
        "pruner-tpe",
        SPACE,
        train,
        TEST,
        budget=10,
        mode=TRAININGS,
        seed=0,
        screen=screen,
        options={"percentile": 75.0, "n_warmup_trials": 3},
    )
    assert record["trainings"] == 10 == len(train.calls)
    assert record["screened_total"] > 10  # trials were pruned after their zero-cost score
    pruned = set(screen.calls) - set(train.calls)
    assert pruned and not pruned & set(train.calls)


def test_prescreen_scores_k_candidates_per_training():
    screen = Evaluator(ZERO_COST)
    record = run_one(
        "prescreen-tpe",
        SPACE,
        Evaluator(VALID),
        TEST,
        budget=6,
        mode=TRAININGS,
        seed=0,
        screen=screen,
        options={"n_candidates": 4},
    )
    assert 6 < record["screened_total"] <= 4 * 6
    assert record["screened"][0] >= 1


def test_hybrid_needs_a_screen_and_strategies_are_known():
    with pytest.raises(CompareError, match="needs a zero-cost evaluator"):
        run_one("zc-local", SPACE, Evaluator(VALID), TEST, budget=2, seed=0, mode=TRAININGS)
    with pytest.raises(KeyError, match="unknown strategy 'bogus'"):
        run_one("bogus", SPACE, Evaluator(VALID), TEST, budget=2, seed=0, mode=TRAININGS)
    with pytest.raises(ValueError, match=r"n_candidates .* or percentile"):
        OptunaHybrid("tpe")
    with pytest.raises(CompareError, match="nb201 only"):
        NNIScreenedEvolution().search(
            get_space("autoformer-t"), lambda a: [0.0], lambda a: [0.0], trainings=1
        )


def test_trainings_grid_runs_training_only_once_per_seed_and_resumes(tmp_path):
    path = tmp_path / "runs.jsonl"
    screens = {"zc": Evaluator(ZERO_COST), "oracle": Evaluator(VALID)}
    kwargs = dict(
        strategies=["random", "screen-random"],
        seeds=[0, 1],
        budget=5,
        mode=TRAININGS,
        train=TableOracle(SPACE, VALID),
        runs_path=path,
        train_metric="valid",
        target="test",
        options={"screen-random": {"pool": 100}},
    )
    runs = run_grid(SPACE, screens, TEST, **kwargs)
    assert sorted((r["strategy"], r["evaluator"], r["seed"]) for r in runs) == sorted(
        [("random", NO_PROXY, s) for s in (0, 1)]
        + [("screen-random", e, s) for e in ("zc", "oracle") for s in (0, 1)]
    )
    assert all(r["train_metric"] == "valid" and r["target"] == "test" for r in runs)
    assert [r["options"] for r in runs if r["strategy"] == "screen-random"] == [{"pool": 100}] * 4
    lines = path.read_text()
    calls = len(screens["zc"].calls)
    again = run_grid(SPACE, screens, TEST, **kwargs)
    assert path.read_text() == lines and len(screens["zc"].calls) == calls  # nothing rerun
    assert len(again) == 6
    other = {**kwargs, "options": {"screen-random": {"pool": 50}}}  # other options: other runs
    assert len(run_grid(SPACE, screens, TEST, **other)) == 6
    assert len(load_runs(path)) == 10
    stored = run_grid(SPACE, {}, TEST, stored_only=True, **kwargs)
    assert len(stored) == 2  # only the training-only runs: no proxy asked for


def _fake(strategy, evaluator, seed, best):
    return {
        "mode": "trainings",
        "strategy": strategy,
        "evaluator": evaluator,
        "seed": seed,
        "budget": 4,
        "trainings": len(best),
        "best_acc": best,
        "screened": [10 * (i + 1) for i in range(len(best))],
        "zc_seconds": [1.0 * (i + 1) for i in range(len(best))],
    }


FAKE = [
    _fake("random", NO_PROXY, 0, [90.0, 91.0, 91.0, 92.0]),
    _fake("random", NO_PROXY, 1, [90.0, 90.0, 93.0, 94.0]),
    _fake("zc-local", "meco", 0, [93.0, 94.0, 94.0, 94.0]),
    _fake("zc-local", "meco", 1, [92.0, 93.0, 94.0, 94.0]),
    _fake("screen-random", "meco", 0, [91.0, 91.0]),  # trained fewer cells than its budget
]


def test_summary_and_best_of_each_kind_exact_values():
    rows = summary(FAKE, mode=TRAININGS, at=[2, 4])
    by_name = {r["name"]: r for r in rows}
    assert set(by_name) == {"random", "zc-local/meco", "screen-random/meco"}
    assert by_name["random"]["kind"] == "training-only"
    assert by_name["zc-local/meco"]["at"][2] == {
        "mean": 93.5,
        "std": 0.5,
        "n": 2,
        "screened": 20.0,
        "zc_seconds": 2.0,
    }
    assert by_name["random"]["at"][4]["mean"] == 93.0
    assert by_name["screen-random/meco"]["at"][4]["mean"] == 91.0  # its last value
    assert by_name["screen-random/meco"]["short"] == 1
    assert at_trainings(rows, [2, 4]) == {
        "2": {
            "best_hybrid": {"name": "zc-local/meco", "mean": 93.5, "std": 0.5},
            "best_training_only": {"name": "random", "mean": 90.5, "std": 0.5},
        },
        "4": {
            "best_hybrid": {"name": "zc-local/meco", "mean": 94.0, "std": 0.0},
            "best_training_only": {"name": "random", "mean": 93.0, "std": 1.0},
        },
    }


def test_trainings_report_and_regret_plot(tmp_path):
    text = write_markdown(
        FAKE, tmp_path / "r.md", title="T", mode=TRAININGS, at=[2, 4], optimum=94.5, notes=["note"]
    ).read_text()
    assert "| zc-local/meco | hybrid | 93.50 ± 0.50 (n=2) | 94.00 ± 0.00 (n=2) |" in text
    assert "| random | training-only | 90.50 ± 0.50 (n=2) | 93.00 ± 1.00 (n=2) |" in text
    assert "| 4 | zc-local/meco 94.00 ± 0.00 | random 93.00 ± 1.00 | +1.00 |" in text
    assert "| zc-local/meco | 20 / 2 s | 40 / 4 s |" in text
    assert "fewer cells than their budget: screen-random/meco (1)" in text
    assert text.rstrip().endswith("note")
    png = plot_regret(FAKE, tmp_path / "regret.png", optimum=94.5, marks=[2, 4])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _table(tmp_path):
    path = tmp_path / "acc.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str", "valid", "test"])
        for arch in SPACE.all_archs():
            writer.writerow([arch, VALID[arch], TEST[arch]])
    return path


def test_cli_trainings_prints_at_trainings_and_resumes(tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "compare", "--table", str(_table(tmp_path)), "--target", "test",
        "--train-metric", "valid", "--trainings", "3,6", "--seeds", "0-1",
        "--strategies", "random,evolution,screen-random,zc-local", "--evaluators", "oracle",
        "--hybrid-options", '{"screen-random": {"pool": 100}, "zc-local": {"pool": 100}}',
        "--out", str(out), "--json",
    ]  # fmt: skip
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["runs"] == 8
    assert set(first["at_trainings"]) == {"3", "6"}
    for entry in first["at_trainings"].values():
        assert set(entry) == {"best_hybrid", "best_training_only"}
        assert set(entry["best_hybrid"]) == {"name", "mean", "std"}
        assert entry["best_hybrid"]["name"].endswith("/oracle")
        assert entry["best_training_only"]["name"] in ("random", "evolution")
    rows = {r["name"]: r for r in first["summary"]}
    assert {r["kind"] for r in rows.values()} == {"hybrid", "training-only"}
    assert rows["zc-local/oracle"]["at"]["6"]["mean"] > rows["random"]["at"]["6"]["mean"]
    for name in ("report.md", "runs.jsonl", "regret_vs_trainings.png"):
        assert (out / name).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "| T | best hybrid | best training-only | difference |" in report
    assert 'zc-local {"pool": 100}' in report
    stored = (out / "runs.jsonl").read_text()
    for line in stored.splitlines():  # trajectories of the best-found target, no table columns
        record = json.loads(line)
        assert set(record) == {
            "mode", "strategy", "evaluator", "seed", "budget", "trainings", "options",
            "best_arch", "best_acc", "screened", "zc_seconds", "seconds", "screened_total",
            "wall_seconds", "train_metric", "target",
        }  # fmt: skip
    assert main(args) == 0  # a rerun: nothing runs again
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["at_trainings"] == first["at_trainings"]
    assert (out / "runs.jsonl").read_text() == stored
    assert main([*args, "--report-only"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["runs"] == 8


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("3", [0, 1, 2]), ("0-3", [0, 1, 2, 3]), ("2,5", [2, 5]), ("0-2,7,1", [0, 1, 2, 7])],
)
def test_seed_syntax(text, seeds):
    from lswag_plugin.cli.compare import _seeds

    assert _seeds(text) == seeds


@pytest.mark.parametrize("text", ["3-1", "a", "1-", "-"])
def test_bad_seeds_exit_2(text, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["compare", "--table", "t", "--target", "x", "--out", "o", "--seeds", text])
    assert exc.value.code == 2
    assert "seeds must be" in capsys.readouterr().err


def test_regret_is_the_distance_to_the_optimum():
    run = _fake("random", NO_PROXY, 0, [90.0, 94.5, 94.5, 94.5])
    rows = summary([run], mode=TRAININGS, at=[1, 2])
    assert [94.5 - rows[0]["at"][t]["mean"] for t in (1, 2)] == [4.5, 0.0]
    assert not math.isnan(np.float64(rows[0]["at"][2]["std"]))


def test_cli_trainings_with_two_workers_gives_the_same_runs(tmp_path, capsys):
    common = [
        "compare", "--table", str(_table(tmp_path)), "--target", "test",
        "--train-metric", "valid", "--trainings", "4", "--seeds", "0-1",
        "--strategies", "random,zc-local", "--evaluators", "oracle",
        "--hybrid-options", '{"zc-local": {"pool": 50}}', "--json",
    ]  # fmt: skip
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    one = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*common, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    two = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert one["runs"] == two["runs"] == 4
    assert one["at_trainings"] == two["at_trainings"]

    def trajectories(folder):
        runs = load_runs(tmp_path / folder / "runs.jsonl")
        return sorted((r["strategy"], r["seed"], r["best_acc"], r["screened"]) for r in runs)

    assert trajectories("one") == trajectories("two")


def test_cli_a_table_column_screens_like_the_same_values_from_the_oracle(tmp_path, capsys):
    common = [
        "compare", "--table", str(_table(tmp_path)), "--target", "test",
        "--train-metric", "valid", "--trainings", "3,6", "--seeds", "0-1",
        "--strategies", "screen-random,zc-local",
        "--hybrid-options", '{"screen-random": {"pool": 100}, "zc-local": {"pool": 100}}', "--json",
    ]  # fmt: skip
    assert main([*common, "--evaluators", "oracle", "--out", str(tmp_path / "o")]) == 0
    oracle = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*common, "--evaluators", "column:valid", "--out", str(tmp_path / "c")]) == 0
    column = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    for t, best in oracle["at_trainings"].items():
        mine = column["at_trainings"][t]["best_hybrid"]
        assert mine["name"] == best["best_hybrid"]["name"].replace("oracle", "column:valid")
        assert (mine["mean"], mine["std"]) == (
            best["best_hybrid"]["mean"],
            best["best_hybrid"]["std"],
        )
    assert "column:valid" in (tmp_path / "c" / "report.md").read_text()
