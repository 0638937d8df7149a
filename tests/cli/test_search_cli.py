"""`lswag search`: JSON summary, trajectory plot, cache reuse."""

from __future__ import annotations

import json

import pytest

from lswag_plugin.cli import main


def _last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


@pytest.mark.parametrize("strategy", ["evolution", "random"])
def test_search_prints_summary_and_writes_plot(strategy, tmp_path, capsys):
    plot = tmp_path / "traj.png"
    out = tmp_path / "result.json"
    args = [
        "search",
        "--space",
        "nb201",
        "--strategy",
        strategy,
        "--proxy",
        "params",
        "--budget",
        "12",
        "--seed",
        "0",
        "--population",
        "6",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--quiet",
        "--plot",
        str(plot),
        "--out",
        str(out),
        "--json",
    ]
    assert main(args) == 0
    res = _last_json(capsys)
    assert res["strategy"] == strategy and res["evaluations"] == 12 and res["scored"] == 12
    assert res["best_arch"].startswith("|") and res["best_params"] == res["best_score"]
    assert plot.stat().st_size > 1000
    assert len(json.loads(out.read_text())["history"]) == 12
    # the same search again: every score comes from the cache
    assert main(args) == 0
    again = _last_json(capsys)
    assert again["scored"] == 0 and again["best_arch"] == res["best_arch"]


def test_params_limit_and_bad_space(tmp_path, capsys):
    base = [
        "search",
        "--proxy",
        "params",
        "--budget",
        "10",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--cache",
        "none",
        "--quiet",
        "--json",
    ]
    assert main([*base, "--space", "nb201", "--strategy", "random", "--params-max", "0.3"]) == 0
    assert _last_json(capsys)["best_params"] <= 0.3e6
    assert main([*base, "--space", "nope"]) == 2
    assert "unknown search space" in capsys.readouterr().err
