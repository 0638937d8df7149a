"""Trials per second of a shared zero-cost Optuna study with 1, 2 and 4 worker processes.

Each configuration gets a fresh study with a budget of ``--trials`` planned trials
(:func:`lswag_plugin.optuna.plan_trials`) and N processes of ``python -m lswag_plugin.optuna.worker``.
A trial builds a small NAS-Bench-201 network (8 channels, one cell per stage) and scores it with L-SWAG on
32 shipped photographs at 32×32 (one torch thread per worker). Throughput is trials / (last completion −
first start), read from the storage, so process start-up (importing torch) is excluded; the wall time
including start-up is reported too. Storages: the journal file (always) and PostgreSQL when
``$LSWAG_TEST_POSTGRES_URL`` is set (``eval "$(.ci/postgres.sh)"``). On a shared machine the numbers
depend on its load, printed with the table; ratios are from one run. The last line of stdout is a JSON
object (``--json PATH`` writes it to a file too).

    python benchmarks/optuna_workers.py --trials 60 --workers 1 2 4 --json bench.json
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import optuna
import torch

from lswag_plugin.data import default_batch
from lswag_plugin.optuna import ZeroCostObjective, open_storage, plan_trials, space_builder
from lswag_plugin.spaces import get_space

# -- the workload, loaded by the worker processes as benchmarks/optuna_workers.py:objective --------
torch.set_num_threads(1)
objective = ZeroCostObjective(
    space_builder(get_space("nb201", channels=8, cells_per_stage=1), num_classes=8),
    proxy="lswag",
    data=default_batch(32, resolution=32, seed=0),
    cache_size=0,  # every trial pays for its scoring, as distinct architectures would
)
sampler = optuna.samplers.RandomSampler()


def run_config(storage_spec: str, n_workers: int, n_trials: int) -> dict:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=name, storage=open_storage(storage_spec), direction="maximize"
    )
    plan_trials(study, n_trials)
    cmd = [sys.executable, "-m", "lswag_plugin.optuna.worker", "--storage", storage_spec]
    cmd += [
        "--study",
        name,
        "--objective",
        f"{__file__}:objective",
        "--sampler",
        f"{__file__}:sampler",
    ]
    started = time.perf_counter()
    procs = [
        subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(n_workers)
    ]
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - started
    if any(codes):
        raise RuntimeError(f"a worker failed: exit codes {codes}")
    trials = study.get_trials()
    assert len(trials) == n_trials and all(t.state.is_finished() for t in trials)
    first = min(t.datetime_start for t in trials)
    last = max(t.datetime_complete for t in trials)
    span = (last - first).total_seconds()
    return {
        "workers": n_workers,
        "trials": n_trials,
        "complete": sum(t.state.name == "COMPLETE" for t in trials),
        "span_s": span,
        "trials_per_s": n_trials / span,
        "wall_s": wall,
    }


def main() -> None:
    # Imported here: the workers load this file by path, without benchmarks/ on sys.path.
    import _common

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=60, help="trials per configuration")
    _common.add_flags(
        parser,
        "workers",
        "json",
        many=("workers",),
        workers=[1, 2, 4],
        helps={"workers": "worker processes of each configuration"},
    )
    args = _common.parse(parser)
    storages = {"journal": None}
    if os.environ.get("LSWAG_TEST_POSTGRES_URL"):
        storages["postgresql"] = os.environ["LSWAG_TEST_POSTGRES_URL"]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, url in storages.items():
            for n in args.workers:
                spec = url or str(Path(tmp) / f"{kind}-{n}.journal")
                row = {"storage": kind, **run_config(spec, n, args.trials)}
                row["load_avg_1min"] = os.getloadavg()[0]
                rows.append(row)
                print(f"  {kind} x{n}: {row['trials_per_s']:.2f} trials/s", file=sys.stderr)
    print(f"CPU cores: {os.cpu_count()}; trials per configuration: {args.trials}")
    print(
        "| storage | workers | trials/s | speed-up vs 1 | span (s) | wall incl. start-up (s) | load avg |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in rows:
        base = next(
            r for r in rows if r["storage"] == row["storage"] and r["workers"] == rows[0]["workers"]
        )
        print(
            f"| {row['storage']} | {row['workers']} | {row['trials_per_s']:.2f} | "
            f"{row['trials_per_s'] / base['trials_per_s']:.2f} | {row['span_s']:.1f} | "
            f"{row['wall_s']:.1f} | {row['load_avg_1min']:.1f} |"
        )
    _common.emit({"cpu_count": os.cpu_count(), "rows": rows}, args.json)


if __name__ == "__main__":
    main()
