"""Worker processes sharing a study: 200 planned trials, one worker SIGKILLed mid-trial, a new one joins."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from lswag_plugin.optuna import (
    FAIL_REASON_ATTR,
    fail_stale_trials,
    open_storage,
    plan_trials,
    run_worker,
)
from lswag_plugin.optuna.worker import load_object

WORKLOAD = Path(__file__).with_name("workload.py")
N_TRIALS = 200
POSTGRES_ENV = "LSWAG_TEST_POSTGRES_URL"


def _start(storage: str, study: str, logs: Path, name: str, **env: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "lswag_plugin.optuna.worker", "--storage", storage]
    cmd += ["--study", study, "--heartbeat-interval", "0.5", "--grace-period", "10"]
    for what in ("objective", "sampler", "pruner"):
        cmd += [f"--{what}", f"{WORKLOAD}:{what}"]
    out = open(logs / f"{name}.log", "w")  # noqa: SIM115 (closed by the process' end)
    return subprocess.Popen(
        cmd, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT, cwd=Path.cwd()
    )


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.2)


def _run_shared_study(storage_spec: str, tmp_path: Path) -> None:
    study_name = f"distributed-{uuid.uuid4().hex[:8]}"
    storage = open_storage(storage_spec)
    study = optuna.create_study(study_name=study_name, storage=storage, direction="maximize")
    assert plan_trials(study, N_TRIALS) == N_TRIALS
    runlog = tmp_path / "runlog"
    runlog.mkdir()
    env = {"LSWAG_TEST_RUNLOG": str(runlog)}
    gate = tmp_path / "gate"  # while it exists, the first four workers hold their next trial
    workers = [
        _start(
            storage_spec,
            study_name,
            tmp_path,
            f"w{i}",
            **env,
            LSWAG_TEST_HANG_AT="3",
            LSWAG_TEST_GATE=str(gate),
        )
        if i == 0
        else _start(storage_spec, study_name, tmp_path, f"w{i}", **env, LSWAG_TEST_GATE=str(gate))
        for i in range(4)
    ]
    try:

        def hung() -> bool:
            return any(
                t.user_attrs.get("hang") for t in study.get_trials(states=(TrialState.RUNNING,))
            )

        _wait_for(hung, 180, "worker 0 to start the trial it hangs in")
        workers[0].send_signal(signal.SIGKILL)
        assert workers[0].wait(30) == -signal.SIGKILL
        done_at_kill = len(study.get_trials(states=(TrialState.COMPLETE, TrialState.PRUNED)))
        assert done_at_kill < N_TRIALS - 20, "the kill must land mid-run"
        # The joining worker must get work whatever the load: hold the others until it ran a trial.
        gate.touch()
        workers.append(_start(storage_spec, study_name, tmp_path, "w4", **env))
        _wait_for(
            lambda: (runlog / f"{workers[4].pid}.txt").exists(),
            180,
            "the joining worker's first trial",
        )
        gate.unlink()
        for w in workers[1:]:
            assert w.wait(300) == 0, (tmp_path / "w1.log").read_text()[-2000:]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()

    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(N_TRIALS))  # none lost, contiguous
    states = collections.Counter(t.state for t in trials)
    assert set(states) <= {TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL}
    assert states[TrialState.COMPLETE] and states[TrialState.PRUNED] and states[TrialState.FAIL]
    reasons = [t.user_attrs.get(FAIL_REASON_ATTR) for t in trials if t.state == TrialState.FAIL]
    assert all(reasons), "every FAIL carries its reason"
    killed = [t for t in trials if t.user_attrs.get("hang")]
    assert len(killed) == 1 and killed[0].state == TrialState.FAIL
    assert "stopped sending heartbeats" in killed[0].user_attrs[FAIL_REASON_ATTR]
    assert any(r.startswith("build_model failed: RuntimeError") for r in reasons)
    assert any("is NaN" in r for r in reasons)
    ran = collections.Counter(int(line) for f in runlog.iterdir() for line in f.read_text().split())
    assert sorted(ran) == list(range(N_TRIALS)) and set(ran.values()) == {1}  # each ran once
    assert len({t.user_attrs["worker"] for t in trials}) == 5  # w0 (killed), w1..w3, w4 joined

    # The study resumes: a larger budget, one more worker, in this process.
    assert plan_trials(study, N_TRIALS + 5) == 5
    resumed = optuna.load_study(
        study_name=study_name,
        storage=storage,
        sampler=load_object(f"{WORKLOAD}:sampler"),
        pruner=load_object(f"{WORKLOAD}:pruner"),
    )
    assert run_worker(resumed, load_object(f"{WORKLOAD}:objective"), heartbeat_interval=0.2) == 5
    trials = study.get_trials()
    assert [t.number for t in trials] == list(range(N_TRIALS + 5))
    assert all(t.state.is_finished() for t in trials)


def test_four_workers_journal_file_one_killed(tmp_path: Path) -> None:
    _run_shared_study(str(tmp_path / "study.journal"), tmp_path)


def test_four_workers_postgresql_one_killed(tmp_path: Path) -> None:
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(f'{POSTGRES_ENV} is not set: run `eval "$(.ci/postgres.sh)"` to start a server')
    pytest.importorskip("psycopg2")
    _run_shared_study(url, tmp_path)


def test_stale_planned_trial_without_heartbeat_is_failed(tmp_path: Path) -> None:
    study = optuna.create_study(storage=open_storage(str(tmp_path / "s.journal")))
    plan_trials(study, 2)
    popped = study.ask()  # a worker popped it and died before its first heartbeat
    assert fail_stale_trials(study, grace_period=60) == []
    time.sleep(0.3)
    assert fail_stale_trials(study, grace_period=0.1) == [popped.number]
    failed = study.trials[popped.number]
    assert failed.state == TrialState.FAIL
    assert "worker unknown stopped sending heartbeats" in failed.user_attrs[FAIL_REASON_ATTR]
    assert study.trials[1].state == TrialState.WAITING


def test_trials_outside_workers_are_left_alone() -> None:
    study = optuna.create_study()
    trial = study.ask()  # not planned, no heartbeat: an ordinary optimize() elsewhere
    time.sleep(0.2)
    assert fail_stale_trials(study, grace_period=0.1) == []
    assert study.trials[trial.number].state == TrialState.RUNNING


def test_run_worker_fails_bad_values_with_reasons() -> None:
    study = optuna.create_study()
    plan_trials(study, 4)
    outcomes = iter([1.0, float("nan"), None, "x"])
    assert run_worker(study, lambda trial: next(outcomes), heartbeat_interval=0.1) == 4
    states = [t.state for t in study.trials]
    assert states == [TrialState.COMPLETE] + [TrialState.FAIL] * 3
    assert [t.user_attrs.get(FAIL_REASON_ATTR, "")[:22] for t in study.trials[1:]] == [
        "objective returned nan",
        "objective returned Non",
        "objective returned 'x'",
    ]


def test_run_worker_reraises_what_it_does_not_catch() -> None:
    study = optuna.create_study()
    plan_trials(study, 2)

    def objective(trial: optuna.Trial) -> float:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_worker(study, objective, heartbeat_interval=0.1, catch=())
    assert study.trials[0].state == TrialState.FAIL
    assert study.trials[0].user_attrs[FAIL_REASON_ATTR] == "objective raised KeyboardInterrupt: "
    assert study.trials[1].state == TrialState.WAITING


def test_plan_trials_and_worker_arguments_are_validated() -> None:
    study = optuna.create_study()
    with pytest.raises(ValueError, match="n_trials"):
        plan_trials(study, -1)
    with pytest.raises(ValueError, match="heartbeat_interval"):
        run_worker(study, lambda t: 0.0, heartbeat_interval=0)
    with pytest.raises(ValueError, match="must exceed heartbeat_interval"):
        run_worker(study, lambda t: 0.0, heartbeat_interval=1, grace_period=1)
    with pytest.raises(ValueError, match="grace_period"):
        fail_stale_trials(study, grace_period=0)


def test_budget_extended_while_a_worker_runs_is_picked_up(tmp_path: Path) -> None:
    study = optuna.create_study(storage=open_storage(str(tmp_path / "s.journal")))
    plan_trials(study, 2)

    def objective(trial: optuna.Trial) -> float:
        if trial.number == 0:
            plan_trials(study, 5)  # the launcher raises the budget meanwhile
        return float(trial.number)

    assert run_worker(study, objective, heartbeat_interval=0.1) == 5
    assert [(t.number, t.value) for t in study.trials] == [(i, float(i)) for i in range(5)]
