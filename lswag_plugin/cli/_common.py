"""Helpers shared by sub-commands: common options, JSON output, progress bars."""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["add_scoring_options", "apply_threads", "print_json_line", "progress", "proxy_options"]


def add_scoring_options(parser: argparse.ArgumentParser) -> None:
    """Adds the options every scoring command shares (proxies, batch, seed, device, band)."""
    parser.add_argument("--proxies", default="lswag", help="comma-separated proxy names, or 'all'")
    parser.add_argument("--batch-size", type=int, default=64, help="samples per batch (default 64)")
    parser.add_argument(
        "--minibatches", type=int, default=2, help="K minibatches of the batch (default 2)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the batch, init and sampling")
    parser.add_argument("--device", default="auto", help="cpu, cuda or auto (default)")
    parser.add_argument(
        "--precision",
        choices=("float32", "bfloat16", "float16"),
        default=None,
        help="autocast the shared forwards (GPU; default float32: no autocast)",
    )
    parser.add_argument(
        "--layer-band", default=None, help="band of percentile bins 'low:high' (default all)"
    )
    parser.add_argument(
        "--pattern-count",
        choices=("per_layer", "union"),
        default=None,
        help="how Ψ counts patterns over layers (default per_layer)",
    )
    parser.add_argument(
        "--libra-model", default=None, help="fitted LIBRA model (JSON) for the 'libra' proxy"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's; 1 is fastest for small models on a busy CPU)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print one JSON object as the last line"
    )


def apply_threads(args: argparse.Namespace) -> None:
    """Sets torch's CPU thread count from ``--threads``, if given."""
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)


def proxy_options(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Returns the per-proxy options given on the command line."""
    options: dict[str, dict[str, Any]] = {}
    if getattr(args, "pattern_count", None):
        options["lswag"] = {"pattern_count": args.pattern_count}
        options["swap"] = {"pattern_count": args.pattern_count}
    if getattr(args, "libra_model", None):
        options["libra"] = {"model": args.libra_model}
    return options


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def print_json_line(obj: dict[str, Any]) -> None:
    """Prints ``obj`` as one JSON line (NaN → null, ±inf → "inf"/"-inf": strict JSON)."""
    print(json.dumps(_clean(obj), sort_keys=False), flush=True)


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", disable: bool = False
) -> Iterator[T]:
    """Yields ``items`` with a tqdm progress bar (with ETA) on stderr."""
    from tqdm.auto import tqdm

    yield from tqdm(
        items, total=total, desc=desc, disable=disable, file=sys.stderr, dynamic_ncols=True
    )
