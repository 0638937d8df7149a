"""Names of the trial attributes this package writes (shared by the objective, sampler and workers)."""

from __future__ import annotations

__all__ = ["FAIL_REASON_ATTR", "HEARTBEAT_ATTR", "PRESCREEN_ATTR", "WORKER_ATTR"]

#: User attribute holding why a trial FAILed (build error, scoring error, NaN score, lost worker).
FAIL_REASON_ATTR = "fail_reason"
#: System attribute: UNIX time of the last heartbeat of a RUNNING trial (see :func:`run_worker`).
HEARTBEAT_ATTR = "lswag:heartbeat"
#: User attribute: host and pid of the worker process that ran the trial.
WORKER_ATTR = "worker"
#: System attribute: the candidates :class:`PrescreenSampler` scored for the trial, best first.
PRESCREEN_ATTR = "lswag:prescreen"
