"""``python -m lswag_plugin.optuna.worker``: one worker process of a shared study (see :func:`run_worker`).

Start the same command on as many processes or machines as wanted, after the launcher created the study
and planned its trials (:func:`plan_trials`)::

    python -m lswag_plugin.optuna.worker --storage postgresql+psycopg2://user@db-host/nas \\
        --study my-search --objective my_project.search:objective --sampler my_project.search:sampler

``--objective`` (and ``--sampler``/``--pruner``) name a module-level object as ``module:name`` or
``path/to/file.py:name``. The process prints one line per trial it ran, then the count.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["load_object", "main"]


def load_object(spec: str) -> Any:
    """Returns the object named by ``"package.module:name"`` or ``"path/to/file.py:name"``."""
    where, sep, name = spec.rpartition(":")
    if not sep or not where or not name:
        raise ValueError(f"expected 'module:name' or 'file.py:name', got {spec!r}")
    if where.endswith(".py"):
        path = Path(where)
        if not path.exists():
            raise FileNotFoundError(f"{where} does not exist")
        module_name = f"_lswag_worker_{path.stem}"
        module_spec = importlib.util.spec_from_file_location(module_name, path)
        assert module_spec is not None and module_spec.loader is not None
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[module_name] = module
        module_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(where)
    try:
        return getattr(module, name)
    except AttributeError:
        raise ValueError(f"{where} has no attribute {name!r}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one worker; returns the exit code."""
    import optuna

    from lswag_plugin.optuna import open_storage, run_worker

    parser = argparse.ArgumentParser(prog="python -m lswag_plugin.optuna.worker")
    parser.add_argument("--storage", required=True, help="journal file path or RDB URL")
    parser.add_argument("--study", required=True, help="study name (created by the launcher)")
    parser.add_argument("--objective", required=True, help="module:name of objective(trial)")
    parser.add_argument("--sampler", default=None, help="module:name of a sampler (default TPE)")
    parser.add_argument("--pruner", default=None, help="module:name of a pruner (default none)")
    parser.add_argument("--heartbeat-interval", type=float, default=5.0, help="seconds")
    parser.add_argument("--grace-period", type=float, default=None, help="seconds (6 × interval)")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(
        study_name=args.study,
        storage=open_storage(args.storage),
        sampler=load_object(args.sampler) if args.sampler else None,
        pruner=load_object(args.pruner) if args.pruner else optuna.pruners.NopPruner(),
    )
    ran = run_worker(
        study,
        load_object(args.objective),
        heartbeat_interval=args.heartbeat_interval,
        grace_period=args.grace_period,
    )
    print(f"worker ran {ran} trial(s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
