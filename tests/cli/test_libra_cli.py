"""`lswag libra fit|eval` on small CSV tables."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from lswag_plugin.cli import main


@pytest.fixture()
def scores_csv(tmp_path):
    rng = np.random.default_rng(0)
    n = 200
    acc = rng.normal(size=n)
    params = acc + rng.normal(size=n)
    cols = {
        "arch_str": [f"a{i}" for i in range(n)],
        "zico": acc + 0.2 * rng.normal(size=n),
        "nwot": acc + 0.3 * rng.normal(size=n),
        "lswag": acc + 0.3 * rng.normal(size=n) + 0.2 * params,
        "synflow": rng.normal(size=n),
        "other_acc": acc + 0.01 * rng.normal(size=n),  # another label column: never a candidate
        "acc": acc,
        "params_m": params,
    }
    path = tmp_path / "scores.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(cols)
        for i in range(n):
            w.writerow([cols[c][i] for c in cols])
    return path


def _last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_fit_with_train_fraction_prints_the_json_contract(scores_csv, tmp_path, capsys):
    out = tmp_path / "libra.json"
    rc = main(
        [
            "libra",
            "fit",
            "--scores",
            str(scores_csv),
            "--target",
            "acc",
            "--params-column",
            "params_m",
            "--train-fraction",
            "0.25",
            "--seed",
            "1",
            "--out",
            str(out),
            "--json",
        ]
    )
    assert rc == 0
    res = _last_json(capsys)
    assert list(res)[:5] == ["selected", "spearman_train", "spearman_heldout", "n_train", "n_test"]
    assert (res["n_train"], res["n_test"]) == (50, 150)
    assert res["selected"][0] == "zico"
    assert set(res["selected"]) <= {"zico", "nwot", "lswag", "synflow"}
    assert 0.8 < res["spearman_heldout"] <= 1.0
    assert out.exists()


def test_eval_reproduces_fit_on_all_rows(scores_csv, tmp_path, capsys):
    out = tmp_path / "libra.json"
    args = ["--scores", str(scores_csv), "--target", "acc"]
    assert (
        main(["libra", "fit", *args, "--params-column", "params_m", "--out", str(out), "--json"])
        == 0
    )
    fit = _last_json(capsys)
    assert fit["n_test"] == 0 and fit["spearman_heldout"] is None
    assert main(["libra", "eval", "--model", str(out), *args, "--json"]) == 0
    ev = _last_json(capsys)
    assert ev["spearman"] == pytest.approx(fit["spearman_train"], abs=1e-12)
    assert ev["n"] == 200


def test_explicit_proxies_and_errors(scores_csv, tmp_path, capsys):
    out = tmp_path / "m.json"
    base = [
        "libra",
        "fit",
        "--scores",
        str(scores_csv),
        "--params-column",
        "params_m",
        "--out",
        str(out),
    ]
    assert main([*base, "--target", "acc", "--proxies", "synflow", "--json"]) == 0
    assert _last_json(capsys)["selected"] == ["synflow"]
    assert main([*base, "--target", "nope"]) == 2
    assert "no column 'nope'" in capsys.readouterr().err
    assert main([*base, "--target", "acc", "--train-fraction", "1.5"]) == 2
    assert "--train-fraction" in capsys.readouterr().err
    assert (
        main(
            [
                "libra",
                "eval",
                "--model",
                str(tmp_path / "missing.json"),
                "--scores",
                str(scores_csv),
                "--target",
                "acc",
            ]
        )
        == 2
    )
    assert "lswag libra fit" in capsys.readouterr().err
