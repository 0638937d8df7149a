"""``lswag demo``: a real (small) zero-cost search, resumed from its journal, with a plot."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
import torch

from lswag_plugin.cli import main
from lswag_plugin.cli.demo import make_build_model


def test_demo_searches_resumes_and_plots(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    args = ["demo", "--trials", "3", "--batch-size", "16", "--out", str(tmp_path), "--json"]
    assert main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert first["trials"] == 3 and first["complete"] + first["failed"] == 3
    assert Path(first["plot"]).stat().st_size > 0
    assert [b["value"] for b in first["best"]] == sorted(
        (b["value"] for b in first["best"]), reverse=True
    )
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "resuming study 'lswag-demo' (3 earlier trials)" in out
    second = json.loads(out.strip().splitlines()[-1])
    assert second["trials"] == 6
    study = optuna.load_study(
        study_name="lswag-demo",
        storage=optuna.storages.JournalStorage(
            optuna.storages.journal.JournalFileBackend(str(tmp_path / "study.journal"))
        ),
    )
    best = max((t for t in study.trials if t.value is not None), key=lambda t: t.value)
    assert second["best"][0]["trial"] == best.number and second["best"][0]["value"] == best.value


@pytest.mark.parametrize("family", ["cnn", "vit"])
def test_demo_space_builds_both_families(family: str) -> None:
    build = make_build_model("both")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    study.enqueue_trial({"family": family})
    trial = study.ask()
    model = build(trial)
    assert trial.user_attrs["family"] == family
    assert model(torch.zeros(2, 3, 32, 32)).shape == (2, 8)
    names = set(trial.params) - {"family"}
    assert names and all(n.startswith(f"{family}_") for n in names)
