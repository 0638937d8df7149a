"""The ``lswag`` command line: one module per sub-command, discovered in this package.

A sub-command module defines ``register(subparsers)``, which adds its parser and sets
``func=run`` (a function taking the parsed ``argparse.Namespace`` and returning an exit code).
Modules are imported only to build the parser; heavy imports belong inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from lswag_plugin.errors import LswagError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """Returns the ``lswag`` parser with every sub-command found in ``lswag_plugin.cli``."""
    from lswag_plugin import __version__

    parser = argparse.ArgumentParser(
        prog="lswag", description="Training-free neural architecture search (L-SWAG, LIBRA-NAS)."
    )
    parser.add_argument("--version", action="version", version=f"lswag-plugin {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    package = sys.modules[__name__]
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs ``lswag`` with ``argv``; returns the exit code (2 for a typed error, with its message)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # for commands that start workers
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except (LswagError, FileNotFoundError) as exc:
        print(f"lswag {args.command}: error: {exc}", file=sys.stderr)
        return 2
