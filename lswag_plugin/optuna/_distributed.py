"""Several worker processes sharing one study: a budget of planned trials, heartbeats, stale-trial reaping.

Optuna's storages already let processes on one or many machines share a study; what they leave to the
user is (1) an exact budget — ``study.optimize(n_trials=...)`` in N workers runs N budgets — and (2) the
trials of a worker that dies: they stay RUNNING forever (the journal storage has no heartbeat; the RDB
heartbeat fails them without a reason). Here the launcher enqueues the budget once (:func:`plan_trials`),
each worker pops planned trials until none is left (:func:`run_worker`), writes a heartbeat into each
trial it runs, and fails the RUNNING trials whose heartbeat went stale (:func:`fail_stale_trials`), with
the reason in ``user_attrs["fail_reason"]``. Trials are never duplicated (popping a WAITING trial is
atomic in every Optuna storage) and numbers stay contiguous (trials are created only by the planner).
"""

from __future__ import annotations

import logging
import math
import os
import socket
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from lswag_plugin.optuna._attrs import FAIL_REASON_ATTR, HEARTBEAT_ATTR, WORKER_ATTR

__all__ = [
    "FAIL_REASON_ATTR",
    "HEARTBEAT_ATTR",
    "PLANNED_ATTR",
    "fail_stale_trials",
    "open_storage",
    "plan_trials",
    "run_worker",
]

_logger = logging.getLogger(__name__)

#: System attribute of the trials :func:`plan_trials` enqueued.
PLANNED_ATTR = "lswag:planned"
#: Default storage of ``open_storage(None)``: a journal file in the working directory.
DEFAULT_JOURNAL = "lswag-study.journal"


def open_storage(spec: str | os.PathLike[str] | BaseStorage | None = None) -> BaseStorage:
    """Returns an Optuna storage: a journal file (the default, no server) or an RDB from a URL.

    Args:
        spec: A storage (returned as is); a URL such as ``"postgresql+psycopg2://user@host/db"`` or
            ``"sqlite:///study.db"`` (an ``RDBStorage``, connections checked before use); a path to a
            journal file, created if missing (``JournalStorage(JournalFileBackend(path))``, safe for
            processes on one machine or a shared file system with working locks); None for
            ``lswag-study.journal``.

    Example:
        >>> import tempfile, os
        >>> from lswag_plugin.optuna import open_storage
        >>> type(open_storage(os.path.join(tempfile.mkdtemp(), "s.journal"))).__name__
        'JournalStorage'
    """
    if isinstance(spec, BaseStorage):
        return spec
    text = str(spec) if spec is not None else DEFAULT_JOURNAL
    if "://" in text:
        return optuna.storages.RDBStorage(text, engine_kwargs={"pool_pre_ping": True})
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    Path(text).parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(text))


def plan_trials(study: optuna.Study, n_trials: int) -> int:
    """Enqueues planned (WAITING) trials until ``study`` holds ``n_trials`` trials; returns how many it added.

    Call it once, from the launcher, before starting the workers (two concurrent calls could both add).
    Calling it again with a larger ``n_trials`` extends the budget of a finished study (resuming).

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import plan_trials
        >>> study = optuna.create_study()
        >>> plan_trials(study, 3), plan_trials(study, 3), len(study.trials)
        (3, 0, 3)
    """
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 0:
        raise ValueError(f"n_trials must be an integer >= 0, got {n_trials!r}")
    missing = max(0, n_trials - len(study.get_trials(deepcopy=False)))
    for _ in range(missing):
        study.add_trial(
            optuna.trial.create_trial(
                state=TrialState.WAITING,
                system_attrs={"fixed_params": {}, PLANNED_ATTR: True},
            )
        )
    return missing


def fail_stale_trials(study: optuna.Study, *, grace_period: float) -> list[int]:
    """Fails the RUNNING trials of dead workers; returns their numbers.

    A RUNNING trial is stale when its heartbeat (written by :func:`run_worker`) is older than
    ``grace_period`` seconds, or when it is a planned trial with no heartbeat started that long ago (its
    worker died between popping it and the first beat). It becomes FAIL with ``user_attrs["fail_reason"]``
    naming the worker. Trials run outside :func:`run_worker` (no heartbeat, not planned) are left alone.
    Several processes may call this at once: a trial is failed once. Clocks of the machines must agree
    to well within ``grace_period``.
    """
    if grace_period <= 0:
        raise ValueError(f"grace_period must be > 0 seconds, got {grace_period}")
    storage, study_id = study._storage, study._study_id
    now = time.time()
    failed: list[int] = []
    for trial in storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,)):
        beat = trial.system_attrs.get(HEARTBEAT_ATTR)
        if beat is None:
            if not trial.system_attrs.get(PLANNED_ATTR) or trial.datetime_start is None:
                continue
            beat = trial.datetime_start.timestamp()
        silent = now - float(beat)
        if silent <= grace_period:
            continue
        worker = trial.user_attrs.get(WORKER_ATTR, "unknown")
        reason = (
            f"worker {worker} stopped sending heartbeats ({silent:.1f} s > grace period "
            f"{grace_period:g} s): it died or hung while running this trial"
        )
        try:
            storage.set_trial_user_attr(trial._trial_id, FAIL_REASON_ATTR, reason)
            if storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                failed.append(trial.number)
                _logger.warning("trial %d FAILed: %s", trial.number, reason)
        except UpdateFinishedTrialError:
            continue  # finished meanwhile (by its worker or by another reaper)
    return failed


class _Heartbeat:
    """Writes ``time.time()`` into the trial's system attributes every ``interval`` seconds."""

    def __init__(self, storage: BaseStorage, trial_id: int, interval: float) -> None:
        self._storage, self._trial_id, self._interval = storage, trial_id, interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lswag-heartbeat", daemon=True)

    def _beat(self) -> bool:
        try:
            self._storage.set_trial_system_attr(self._trial_id, HEARTBEAT_ATTR, time.time())
        except UpdateFinishedTrialError:
            return False
        return True

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            if not self._beat():
                return

    def __enter__(self) -> _Heartbeat:
        self._beat()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class _Queue:
    """Pops WAITING trials by trial number with a per-worker cursor (a few cheap queries per pop).

    Listing every WAITING trial at each pop (as ``study.ask`` does) loads O(budget) rows per trial from
    an RDB; walking the numbers once per worker costs one lookup per trial number instead.
    """

    def __init__(self, storage: BaseStorage, study_id: int) -> None:
        from optuna.storages.journal import JournalStorage

        self._storage, self._study_id, self._cursor, self._known = storage, study_id, 0, 0
        # A journal keeps trials in memory: reading a state is free, a failed claim costs a log line.
        self._look_first = isinstance(storage, JournalStorage)

    def pop(self) -> int | None:
        storage = self._storage
        while True:
            if self._cursor >= self._known:
                self._known = storage.get_n_trials(self._study_id)
                if self._cursor >= self._known:
                    break
            number, self._cursor = self._cursor, self._cursor + 1
            trial_id = storage.get_trial_id_from_study_id_trial_number(self._study_id, number)
            if self._look_first and storage.get_trial(trial_id).state != TrialState.WAITING:
                continue
            try:
                if storage.set_trial_state_values(trial_id, state=TrialState.RUNNING):
                    return trial_id
            except UpdateFinishedTrialError:
                continue
        # Trials enqueued behind the cursor (by another launcher): the usual scan.
        for trial in storage.get_all_trials(
            self._study_id, deepcopy=False, states=(TrialState.WAITING,)
        ):
            try:
                if storage.set_trial_state_values(trial._trial_id, state=TrialState.RUNNING):
                    return trial._trial_id
            except UpdateFinishedTrialError:
                continue
        return None


def _finish(study: optuna.Study, trial: optuna.Trial, objective: Callable[[Any], Any]) -> None:
    try:
        value = objective(trial)
    except optuna.TrialPruned:
        study.tell(trial, state=TrialState.PRUNED)
        return
    except BaseException as exc:  # KeyboardInterrupt too: the trial must not stay RUNNING
        trial.set_user_attr(FAIL_REASON_ATTR, f"objective raised {type(exc).__name__}: {exc}")
        study.tell(trial, state=TrialState.FAIL)
        raise
    reason = _bad_value(study, value)
    if reason is not None:  # Optuna FAILs the trial; record why
        if FAIL_REASON_ATTR not in trial.user_attrs:
            trial.set_user_attr(FAIL_REASON_ATTR, reason)
        study.tell(trial, state=TrialState.FAIL)
        return
    study.tell(trial, value)


def _bad_value(study: optuna.Study, value: Any) -> str | None:
    """Returns why Optuna would FAIL a trial returning ``value``, or None if it is a valid result."""
    values = value if isinstance(value, Sequence) and not isinstance(value, str) else [value]
    if len(values) != len(study.directions):
        return f"objective returned {value!r}: {len(study.directions)} value(s) expected"
    for v in values:
        try:
            number = float(v)
        except (TypeError, ValueError):
            return f"objective returned {value!r}: not a number"
        if math.isnan(number):
            return f"objective returned {value!r}"
    return None


def run_worker(
    study: optuna.Study,
    objective: Callable[[Any], Any],
    *,
    heartbeat_interval: float = 5.0,
    grace_period: float | None = None,
    catch: Sequence[type[Exception]] | tuple[type[Exception], ...] = (Exception,),
    wait_for_running: bool = True,
) -> int:
    """Runs planned trials of ``study`` until none is left; returns how many this worker ran.

    Start one per process (on one or many machines) on the same storage, after :func:`plan_trials`.
    Each planned trial is popped atomically, run with a heartbeat thread, and told COMPLETE, PRUNED
    (``optuna.TrialPruned``) or FAIL (NaN, an exception in ``catch``, or a value Optuna rejects), with
    ``user_attrs["fail_reason"]`` for every FAIL. Before each trial the worker fails stale trials of dead
    workers (:func:`fail_stale_trials`). With ``wait_for_running`` it returns only when no trial is
    RUNNING any more (so the last worker standing fails those of a worker killed near the end).

    Args:
        study: The shared study, loaded with this worker's sampler and pruner.
        objective: ``objective(trial)``, e.g. a :class:`ZeroCostObjective`.
        heartbeat_interval: Seconds between heartbeats.
        grace_period: Seconds of silence after which a trial is failed (default 6 × interval).
        catch: Exceptions of the objective that FAIL the trial and let the worker go on; others FAIL the
            trial and are re-raised.
        wait_for_running: Wait for RUNNING trials of other workers to end or go stale before returning.

    Example:
        >>> import optuna
        >>> from lswag_plugin.optuna import plan_trials, run_worker
        >>> study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> plan_trials(study, 4)
        4
        >>> run_worker(study, lambda trial: trial.suggest_float("x", 0, 1), heartbeat_interval=0.1)
        4
        >>> sorted({t.state.name for t in study.trials})
        ['COMPLETE']
    """
    if heartbeat_interval <= 0:
        raise ValueError(f"heartbeat_interval must be > 0 seconds, got {heartbeat_interval}")
    grace = 6.0 * heartbeat_interval if grace_period is None else float(grace_period)
    if grace <= heartbeat_interval:
        raise ValueError(
            f"grace_period ({grace:g} s) must exceed heartbeat_interval ({heartbeat_interval:g} s)"
        )
    catch = tuple(catch)
    storage, study_id = study._storage, study._study_id
    worker = f"{socket.gethostname()}:{os.getpid()}"
    queue = _Queue(storage, study_id)
    ran = 0
    last_check = -math.inf
    while True:
        if time.monotonic() - last_check >= heartbeat_interval:  # at most once per interval
            fail_stale_trials(study, grace_period=grace)
            last_check = time.monotonic()
        trial_id = queue.pop()
        if trial_id is None:
            running = storage.get_all_trials(study_id, deepcopy=False, states=(TrialState.RUNNING,))
            if not wait_for_running or not running:
                return ran
            time.sleep(min(heartbeat_interval, grace / 4))
            continue
        with _Heartbeat(storage, trial_id, heartbeat_interval):
            number = storage.get_trial(trial_id).number
            try:
                trial = optuna.Trial(study, trial_id)
                trial.set_user_attr(WORKER_ATTR, worker)
                _finish(study, trial, objective)
            except UpdateFinishedTrialError:
                _logger.warning(
                    "trial %d was failed by another worker while this one ran it (its heartbeats "
                    "came later than grace_period=%g s: raise it)",
                    number,
                    grace,
                )
            except catch as exc:
                _logger.warning("trial %d FAILed: %s: %s", number, type(exc).__name__, exc)
            ran += 1
