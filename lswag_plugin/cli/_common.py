"""Helpers shared by sub-commands: the scoring options (one set, every scoring command), checked numbers."""

from __future__ import annotations

import argparse
from typing import Any

from lswag_plugin.output import print_json_line, progress

__all__ = [
    "SCORING_FLAGS",
    "add_scoring_options",
    "apply_threads",
    "open_cache",
    "positive_int",
    "print_json_line",
    "progress",
    "proxy_options",
    "scoring_config",
    "unit_float",
]

#: The flags :func:`add_scoring_options` adds: every command that scores accepts all of them.
SCORING_FLAGS = (
    "--data",
    "--batch-size",
    "--minibatches",
    "--resolution",
    "--num-classes",
    "--score-seed",
    "--device",
    "--precision",
    "--layer-band",
    "--pattern-count",
    "--libra-model",
    "--az-reference",
    "--threads",
    "--workers",
)


def _integer_at_least(minimum: int, text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from exc
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    return _integer_at_least(1, text)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    return _integer_at_least(0, text)


def unit_float(text: str) -> float:
    """argparse type: a float in [0, 1]."""
    try:
        value = float(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from exc
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {value}")
    return value


def add_scoring_options(
    parser: argparse.ArgumentParser,
    *,
    num_classes: int | None = 10,
    cache: str | None = "auto",
    seed_help: str = "default 0",
) -> None:
    """Adds the scoring flags (:data:`SCORING_FLAGS`) and ``--json``; :func:`scoring_config` reads them.

    Args:
        parser: The sub-command's parser.
        num_classes: Default of ``--num-classes``.
        cache: Default of ``--cache`` (``"auto"``: the user cache; ``"none"``: no cache); None for a
            command that keeps no score cache (no ``--cache`` flag).
        seed_help: What ``--score-seed`` defaults to on this command.
    """
    g = parser.add_argument_group("scoring (one set of flags on every command that scores)")
    g.add_argument(
        "--data",
        default=None,
        help=".npz batch, image folder, or cifar10 / cifar100[:ROOT] (a seeded batch of the "
        "training split, downloaded by torchvision) (default: shipped photos)",
    )
    g.add_argument(
        "--batch-size", type=positive_int, default=64, help="samples per batch (default 64)"
    )
    g.add_argument(
        "--minibatches", type=positive_int, default=2, help="K minibatches of the batch (default 2)"
    )
    g.add_argument(
        "--resolution", type=positive_int, default=None, help="input size (default: the space's)"
    )
    g.add_argument(
        "--num-classes",
        type=positive_int,
        default=num_classes,
        help=f"classes of the networks (default {num_classes})",
    )
    g.add_argument(
        "--score-seed",
        type=non_negative_int,
        default=None,
        help=f"seed of the batch, of every network's initialisation and of the passes ({seed_help})",
    )
    g.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default)")
    g.add_argument(
        "--precision",
        choices=("float32", "bfloat16", "float16"),
        default=None,
        help="autocast the shared forwards (GPU; default float32: no autocast)",
    )
    g.add_argument(
        "--layer-band", default=None, help="band of percentile bins 'low:high' (default all)"
    )
    g.add_argument(
        "--pattern-count",
        choices=("per_layer", "union"),
        default=None,
        help="how Ψ counts patterns over layers (default per_layer)",
    )
    g.add_argument(
        "--libra-model", default=None, help="fitted LIBRA model (JSON) for the 'libra' proxy"
    )
    g.add_argument(
        "--az-reference",
        default=None,
        help="AZ-NAS reference sample (JSON, from proxies.az_nas.sample_reference) for 'az_nas'",
    )
    g.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: torch's; 1 is fastest for small models on a busy CPU)",
    )
    g.add_argument(
        "--workers",
        type=positive_int,
        default=1,
        help="candidates scored at once, each in a worker process (default 1)",
    )
    if cache is not None:
        g.add_argument(
            "--cache",
            default=cache,
            help=f"score cache file, 'auto' (the user cache) or 'none' (default {cache})",
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
    if getattr(args, "az_reference", None):
        options["az_nas"] = {"reference": args.az_reference}
    return options


def scoring_config(args: argparse.Namespace, *, seed: int = 0) -> Any:
    """Returns the :class:`~lswag_plugin.engine.ScoringConfig` of the scoring flags.

    Args:
        args: Parsed arguments of a parser with :func:`add_scoring_options`.
        seed: The scoring seed when ``--score-seed`` is not given (a command's own ``--seed``).

    Raises:
        LswagError: ``--device cuda`` without CUDA (checked here, before any work).
    """
    from lswag_plugin.engine import ScoringConfig

    try:
        config = ScoringConfig(
            data=args.data,
            batch_size=args.batch_size,
            minibatches=args.minibatches,
            resolution=args.resolution,
            num_classes=args.num_classes,
            device=args.device,
            precision=args.precision,
            layer_band=args.layer_band,
            seed=args.score_seed if args.score_seed is not None else seed,
            options=proxy_options(args),
            threads=args.threads,
        )
    except ValueError as exc:
        from lswag_plugin.errors import LswagError

        raise LswagError(str(exc)) from exc
    config.torch_device()  # --device cuda without CUDA: a clear error now
    return config


def open_cache(spec: str | None) -> Any:
    """Returns the :class:`~lswag_plugin.cache.ScoreCache` of ``--cache`` (None for ``"none"``)."""
    if spec is None or spec.lower() == "none":
        return None
    from lswag_plugin.cache import ScoreCache

    return ScoreCache() if spec == "auto" else ScoreCache(spec)
