"""The OptunaHub package folders load through ``optunahub.load_local_module`` and re-export the library."""

from __future__ import annotations

from pathlib import Path

import pytest

import lswag_plugin.optuna as lo

optunahub = pytest.importorskip("optunahub")
REGISTRY = Path(__file__).resolve().parents[2] / "integrations" / "optunahub"
PACKAGES = {
    "pruners/zero_cost": ("pruner", ["ZeroCostPruner", "report_zero_cost", "ZeroCostObjective"]),
    "samplers/zero_cost_prescreen": ("sampler", ["PrescreenSampler", "ZeroCostObjective"]),
}


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_loads_and_reexports(package: str) -> None:
    module = optunahub.load_local_module(package, registry_root=str(REGISTRY))
    for name in PACKAGES[package][1]:
        assert getattr(module, name) is getattr(lo, name)


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_files_and_front_matter(package: str) -> None:
    folder = REGISTRY / package
    assert {p.name for p in folder.iterdir() if p.is_file()} >= {
        "__init__.py",
        "README.md",
        "LICENSE",
        "example.py",
    }
    text = (folder / "README.md").read_text()
    assert text.startswith("---\n")
    front = dict(
        line.split(": ", 1) for line in text.split("---\n")[1].strip().splitlines() if ": " in line
    )
    assert set(front) == {"author", "title", "description", "tags", "optuna_versions", "license"}
    assert PACKAGES[package][0] in front["tags"]  # OptunaHub requires the category tag
    assert front["license"] == "MIT License"
    assert (folder / "LICENSE").read_text().startswith("MIT License")


def test_pruner_from_the_hub_runs_in_a_study() -> None:
    import optuna

    module = optunahub.load_local_module("pruners/zero_cost", registry_root=str(REGISTRY))
    study = optuna.create_study(pruner=module.ZeroCostPruner(percentile=50, n_warmup_trials=1))
    for score in (2.0, 1.0):
        trial = study.ask()
        pruned = module.report_zero_cost(trial, score)
        study.tell(
            trial,
            0.0 if not pruned else None,
            state=None if not pruned else optuna.trial.TrialState.PRUNED,
        )
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED"]
