"""Repository-level pytest set-up: doctests of modules whose optional dependency is absent are skipped."""

from __future__ import annotations

import importlib.util

#: Package paths (relative to this folder) → the optional dependency their doctests import.
_OPTIONAL = {
    "lswag_plugin/nni": "nni",
    "lswag_plugin/optuna": "optuna",
    "lswag_plugin/cli/demo.py": "optuna",
    "lswag_plugin/compare": "optuna",
    "lswag_plugin/output.py": "matplotlib",
}

collect_ignore = [
    path for path, module in _OPTIONAL.items() if importlib.util.find_spec(module) is None
]
