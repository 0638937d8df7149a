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


@pytest.mark.parametrize(
    ("space", "resolution"), [("nb101", "8"), ("darts", "8"), ("pit", "16")]
)  # PiT's patch embedding needs at least 16 pixels
def test_search_on_the_other_spaces(space, resolution, tmp_path, capsys):
    from lswag_plugin.spaces import get_space

    args = ["search", "--space", space, "--proxy", "params", "--budget", "4", "--seed", "0"]
    args += ["--population", "2", "--parents", "1", "--batch-size", "4"]  # mutation and crossover
    args += ["--resolution", resolution, "--device", "cpu", "--threads", "1"]
    args += ["--cache", str(tmp_path / "c.sqlite"), "--out", str(tmp_path / "r.json")]
    assert main([*args, "--quiet", "--json"]) == 0
    res = _last_json(capsys)
    assert res["space"] == space and res["evaluations"] == 4 and res["scored"] == 4
    s = get_space(space)
    assert s.validate(res["best_arch"]) == res["best_arch"]
    arch = res["best_arch"]
    assert res["best_params"] == s.num_params(arch)  # the space's network (PiT: 224 pixels)
    scored = s.num_params(arch, resolution=16) if space == "pit" else s.num_params(arch)
    assert res["best_score"] == scored  # the network scored, at --resolution
    history = json.loads((tmp_path / "r.json").read_text())["history"]
    assert len({h["arch"] for h in history}) == 4
    assert all(s.encode(s.decode(h["arch"])) == h["arch"] for h in history)
    assert max(h["score"] for h in history) == res["best_score"]
