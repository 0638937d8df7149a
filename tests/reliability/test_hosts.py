"""The catalogue inside host studies: every bad candidate is a failed trial with its reason, the study
(or experiment) finishes, and no entry crashes the host (counted, and asserted to be zero)."""

from __future__ import annotations

import re
import warnings
from typing import Any

import pytest

from lswag_plugin.errors import LswagError
from tests.reliability._catalogue import ENTRIES, Entry, applicable, batch

optuna = pytest.importorskip("optuna")
from optuna.trial import TrialState  # noqa: E402

from lswag_plugin.optuna import ZeroCostObjective  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)
pytestmark = pytest.mark.filterwarnings("ignore::lswag_plugin.errors.NonFiniteOutputWarning")

MODEL_ENTRIES = [e for e in ENTRIES if e.host_level == "model" and not e.kwargs]


def _objective(entry: Entry, build: Any) -> ZeroCostObjective:
    first, *rest = entry.proxies.split(",")
    return ZeroCostObjective(
        build,
        proxy=first,
        record=tuple(rest),
        data=entry.data(),
        batch_size=None,
        device=entry.kwargs.get("device", "cpu"),
        num_classes=entry.kwargs.get("num_classes"),
    )


def _check_reason(entry: Entry, reason: str | None) -> None:
    assert reason, f"{entry.id}: FAILed without a reason"
    if entry.bug is None:
        pattern = "NaN" if entry.nan else entry.match
        assert re.search(pattern, reason), f"{entry.id}: reason {reason!r} lacks {pattern!r}"


def test_optuna_every_catalogue_entry_is_a_failed_trial_or_a_result_never_a_crash() -> None:
    crashes: list[str] = []
    refused: list[str] = []  # typed errors at set-up, before any trial (e.g. an unknown proxy)
    for entry in applicable(ENTRIES):
        try:
            objective = _objective(entry, lambda trial, e=entry: e.model())
        except LswagError as exc:
            assert entry.error is not None and re.search(entry.match, str(exc))
            refused.append(entry.id)
            continue
        study = objective.create_study()
        try:
            study.optimize(objective, n_trials=2)  # the second trial shows the study goes on
        except Exception as exc:
            crashes.append(f"{entry.id}: {type(exc).__name__}: {exc}")
            continue
        states = [t.state for t in study.trials]
        if entry.fails:
            assert states == [TrialState.FAIL] * 2, entry.id
            _check_reason(entry, study.trials[0].user_attrs.get("fail_reason"))
        else:
            assert states == [TrialState.COMPLETE] * 2, entry.id
    assert crashes == []
    # Configuration errors are refused when the objective is made, before any trial runs.
    assert sorted(refused) == ["cuda_requested_without_cuda", "unknown_proxy"]


def test_optuna_one_study_with_every_bad_candidate_between_good_ones() -> None:
    ids = [e.id for e in MODEL_ENTRIES]
    by_id = {e.id: e for e in MODEL_ENTRIES}

    def build(trial: Any):
        return by_id[trial.suggest_categorical("case", ids)].model()

    objective = ZeroCostObjective(
        build, proxy="lswag", record=("nwot",), data=batch(), batch_size=None
    )
    study = objective.create_study()
    for case in ids:
        study.enqueue_trial({"case": case})
    crashes = 0
    try:
        study.optimize(objective, n_trials=len(ids))
    except Exception:
        crashes += 1
    assert crashes == 0
    assert len(study.trials) == len(ids)
    for trial in study.trials:
        entry = by_id[trial.params["case"]]
        if entry.fails:
            assert trial.state == TrialState.FAIL, entry.id
            _check_reason(entry, trial.user_attrs.get("fail_reason"))
        else:
            assert trial.state == TrialState.COMPLETE, entry.id
            assert trial.value == trial.user_attrs["lswag"]


# ---------------------------------------------------------------------------------------------- NNI
def _nni_run(space: Any, evaluator: Any, trials: int) -> Any:
    from nni.nas import strategy
    from nni.nas.experiment import NasExperiment

    from lswag_plugin.nni import sequential_config

    exp = NasExperiment(
        space, evaluator, strategy.GridSearch(), sequential_config(max_trial_number=trials)
    )
    try:
        exp.run()
    finally:
        exp.stop()  # else atexit stops it later, writing under the real HOME
    return exp


def test_nni_experiment_over_the_catalogue_finishes_with_failed_trials_and_reasons() -> None:
    pytest.importorskip("nni")
    from nni.nas.space import ModelStatus

    from lswag_plugin.nni import ZeroCostEvaluator
    from tests.reliability._nni_space import MODEL_ENTRIES as NNI_ENTRIES
    from tests.reliability._nni_space import CatalogueSpace

    evaluator = ZeroCostEvaluator("lswag,nwot", data=batch(), batch_size=8)
    crashes = 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            exp = _nni_run(CatalogueSpace(), evaluator, len(NNI_ENTRIES))
    except Exception:
        crashes += 1
    assert crashes == 0
    status = {m.sample["case"]: m.status for m in exp.strategy.list_models(sort=False)}
    records = {r.sample["case"]: r for r in evaluator.history}
    assert sorted(status) == sorted(e.id for e in NNI_ENTRIES)
    for entry in NNI_ENTRIES:
        record = records[entry.id]
        if entry.fails:
            assert status[entry.id] == ModelStatus.Failed, entry.id
            assert record.metrics is None
            _check_reason(entry, record.failure)
        else:
            assert status[entry.id] == ModelStatus.Trained, entry.id
            assert record.failure is None and record.metrics["default"] == record.metrics["lswag"]


@pytest.mark.parametrize(
    "entry",
    [e for e in applicable(ENTRIES) if e.host_level == "data" or e.kwargs],
    ids=lambda e: e.id,
)
def test_nni_evaluator_with_a_bad_batch_or_setting_fails_typed_or_scores(entry: Entry) -> None:
    """A bad batch or setting is the evaluator's: refused typed at construction, or every candidate fails."""
    pytest.importorskip("nni")
    from lswag_plugin.nni import ZeroCostEvaluator

    try:
        evaluator = ZeroCostEvaluator(
            entry.proxies,
            data=entry.data(),
            batch_size=8,
            device=entry.kwargs.get("device", "cpu"),
            num_classes=entry.kwargs.get("num_classes"),
        )
    except LswagError as exc:
        assert entry.error is not None and re.search(entry.match, str(exc))
        return
    if not entry.fails:
        assert evaluator.evaluate(entry.model())["default"] > 0
        return
    with pytest.raises(Exception) as info:
        evaluator.evaluate(entry.model())
    if entry.bug is None:
        assert isinstance(info.value, entry.error) and re.search(entry.match, str(info.value))
