"""`lswag compare`: report files, JSON summary, resuming from the cache and the runs file."""

from __future__ import annotations

import csv
import json

from lswag_plugin.cli import main
from lswag_plugin.spaces import get_space


def _table(tmp_path):
    path = tmp_path / "acc.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["arch_str", "acc"])
        for arch in get_space("nb201").all_archs():  # made-up accuracies
            writer.writerow([arch, 80 + arch.count("nor_conv_3x3")])
    return path


def test_compare_writes_report_and_resumes_without_recomputing(tmp_path, capsys):
    out = tmp_path / "out"
    args = [
        "compare",
        "--table",
        str(_table(tmp_path)),
        "--target",
        "acc",
        "--budget",
        "4",
        "--seeds",
        "2",
        "--strategies",
        "random,evolution",
        "--evaluators",
        "params,oracle",
        "--batch-size",
        "4",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--out",
        str(out),
        "--json",
    ]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["runs"] == 8
    assert {(r["strategy"], r["evaluator"], r["seeds"]) for r in first["summary"]} == {
        (s, e, 2) for s in ("random", "evolution") for e in ("params", "oracle")
    }
    for name in ("report.md", "runs.jsonl", "best_vs_evaluations.png", "best_vs_seconds.png"):
        assert (out / name).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "| strategy | oracle | params |" in report
    assert "Cells scored by the engine in this invocation: 8;" in report  # gen 0 = random's cells
    runs = (out / "runs.jsonl").read_text()

    assert main(args) == 0  # a rerun: every run stored, every score cached
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["summary"] == first["summary"]
    assert (out / "runs.jsonl").read_text() == runs
    assert "Cells scored by the engine in this invocation: 0;" in (out / "report.md").read_text()


def test_compare_unknown_strategy_exits_with_a_message(tmp_path, capsys):
    code = main(
        [
            "compare",
            "--table",
            str(_table(tmp_path)),
            "--target",
            "acc",
            "--budget",
            "2",
            "--strategies",
            "hill-climb",
            "--evaluators",
            "oracle",
            "--out",
            str(tmp_path / "o"),
        ]
    )
    assert code == 2
    assert "unknown strategy 'hill-climb'" in capsys.readouterr().err


def test_compare_with_two_workers_writes_the_same_runs(tmp_path, capsys):
    common = ["compare", "--table", str(_table(tmp_path)), "--target", "acc", "--budget", "4"]
    common += ["--seeds", "2", "--strategies", "random,evolution", "--evaluators", "params,oracle"]
    common += ["--batch-size", "4", "--cache", str(tmp_path / "c.sqlite"), "--json"]
    assert main([*common, "--out", str(tmp_path / "one")]) == 0
    one = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert main([*common, "--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    two = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert two["runs"] == one["runs"] == 8

    def accuracy(summary):
        return {(r["strategy"], r["evaluator"]): r["mean"] for r in summary}

    assert accuracy(two["summary"]) == accuracy(one["summary"])
    assert "(2 worker processes): 0;" in (tmp_path / "two" / "report.md").read_text()


def _visited_table(tmp_path, space_name, strategies, budget):
    """A table of made-up accuracies for every cell ``strategies`` evaluate first (seed 0).

    NB101 and DARTS have no full table here; within ``budget`` (below evolution's population and
    TPE's startup trials) the strategies draw cells independent of the fitness, so these are the cells
    a comparison with that budget evaluates.
    """
    import contextlib

    from lswag_plugin.errors import BudgetSpent
    from lswag_plugin.search import get_strategy

    space = get_space(space_name)
    seen: dict[str, float] = {}

    def track(archs):
        for arch in archs:
            key = space.encode(arch)
            if key not in seen and len(seen) >= 100:
                raise BudgetSpent
            seen.setdefault(key, 80.0 + len(seen) % 7)
        return [seen[space.encode(a)] for a in archs]

    for strategy in strategies:
        with contextlib.suppress(BudgetSpent):
            get_strategy(strategy).search(space, track, budget=budget, seed=0)
    path = tmp_path / "acc.json"
    path.write_text(json.dumps([{"arch": k, "acc": v} for k, v in seen.items()]))
    return path


def test_compare_on_nb101_and_darts(tmp_path, capsys):
    strategies = ["random", "evolution", "optuna-tpe"]  # TPE on NB101: invalid draws are pruned
    for space in ("nb101", "darts"):
        out = tmp_path / space
        args = ["compare", "--space", space, "--arch-column", "arch", "--target", "acc"]
        args += ["--table", str(_visited_table(tmp_path, space, strategies, 4))]
        args += ["--budget", "4", "--seeds", "1", "--strategies", ",".join(strategies)]
        args += ["--evaluators", "params,oracle", "--batch-size", "4", "--resolution", "8"]
        args += ["--device", "cpu", "--cache", "none", "--quiet", "--out", str(out), "--json"]
        assert main(args) == 0
        res = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert res["runs"] == 6
        assert {(r["strategy"], r["evaluator"]) for r in res["summary"]} == {
            (s, e) for s in strategies for e in ("params", "oracle")
        }
        assert all(r["evaluations"] == 4 for r in res["summary"])
        assert "| strategy | oracle | params |" in (out / "report.md").read_text()
