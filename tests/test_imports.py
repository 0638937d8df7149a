"""Every module of the package imports on its own, in a fresh interpreter (no import-order luck)."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import lswag_plugin

# One child process per module, forked from a parent that has imported the heavy third-party packages
# (torch, timm, scipy) but nothing of lswag_plugin: each child imports one module of the package first.
_SCRIPT = r"""
import importlib, os, sys, traceback
import numpy, scipy.stats, torch, timm  # noqa: F401  (third party only)
assert not any(m.startswith("lswag_plugin") for m in sys.modules)
failed = []
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
        except BaseException:
            traceback.print_exc()
            os._exit(1)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if status != 0:
        failed.append(name)
print("FAILED:" + ",".join(failed))
"""

OPTIONAL = {"lswag_plugin.nni": "nni"}


def _needs(module: str) -> str | None:
    """The optional dependency ``module`` (or the package it is in) imports, if any."""
    for prefix, dependency in OPTIONAL.items():
        if module == prefix or module.startswith(prefix + "."):
            return dependency
    return None


def _modules() -> list[str]:
    root = Path(lswag_plugin.__file__).parent
    names = ["lswag_plugin"]
    for info in pkgutil.walk_packages([str(root)], prefix="lswag_plugin."):
        if info.name != "lswag_plugin.__main__":  # runs the CLI when imported
            names.append(info.name)
    return names


def test_every_module_imports_first_in_a_fresh_interpreter() -> None:
    import importlib.util

    names = [
        n
        for n in _modules()
        if _needs(n) is None or importlib.util.find_spec(_needs(n)) is not None
    ]
    assert "lswag_plugin.proxies.lswag" in names and len(names) > 50
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *names], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-3000:]
    last = out.stdout.strip().splitlines()[-1]
    assert last == "FAILED:", f"{last}\n{out.stderr[-3000:]}"
