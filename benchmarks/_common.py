"""What every benchmark script shares: the flags (one spelling each), the scoring config, the JSON output.

A script adds the flags it has with :func:`add_flags` (names from :data:`FLAGS`; a keyword argument sets
the script's default), reads them with :func:`parse`, builds its
:class:`~lswag_plugin.engine.ScoringConfig` with :func:`scoring_config`, and ends with :func:`emit`: the
result object is printed as the last line of stdout and, with ``--json PATH``, written to that file.

    import _common  # benchmarks/ is on sys.path when a script there runs

    parser = argparse.ArgumentParser()
    _common.add_flags(parser, *_common.SCORING, "data_dir", "seed", "json", threads=1)
    args = _common.parse(parser)
    config = _common.scoring_config(args)
    ...
    _common.emit({"rho": rho}, args.json)

The flags:

- ``--data``: the image batch (``.npz`` or image folder; default: the photographs shipped with
  scikit-image, or the script's default, written ``<data-dir>/images/cifar10_sample.npz`` when it is a
  file of the ground-truth folder);
- ``--data-dir``: the ground-truth folder (default ``$LSWAG_DATA``, else ``../shared/data``);
- ``--batch-size``, ``--minibatches``, ``--resolution``, ``--num-classes``, ``--seed``, ``--device``,
  ``--precision``, ``--threads``, ``--workers``: the settings of a score (``--workers``: candidates in
  flight, each in a worker process);
- ``--sample``: rows of a table drawn (seeded by ``--seed``);
- ``--cache``: the score cache, a file, ``auto`` (the user cache) or ``none``;
- ``--json PATH``: also write the result object to ``PATH``.

Library imports are lazy, and an older checkout (``PYTHONPATH=<checkout> python benchmarks/...``, as
``fixed_cost.py`` is run against one) falls back to plain ``int`` checks and plain JSON.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "CIFAR10",
    "FLAGS",
    "SCORING",
    "add_flags",
    "emit",
    "open_cache",
    "parse",
    "scoring_config",
]

#: A ``--data`` default inside the ground-truth folder: the 64+ CIFAR-10 images of the shared data.
CIFAR10 = "<data-dir>/images/cifar10_sample.npz"
_DATA_DIR_PREFIX = "<data-dir>/"

#: The flags of a score that map to fields of :class:`~lswag_plugin.engine.ScoringConfig`.
SCORING = (
    "data",
    "batch_size",
    "minibatches",
    "resolution",
    "num_classes",
    "device",
    "precision",
    "threads",
)
#: What a flag's None default means (shown in its help).
_NONE_MEANS = {
    "data": "the photographs shipped with scikit-image",
    "data_dir": "$LSWAG_DATA, else ../shared/data",
    "resolution": "the source's",
    "precision": "float32, no autocast",
    "threads": "torch's",
    "sample": "every row",
}
#: ScoringConfig fields read from the parsed flags by :func:`scoring_config` (those present).
_CONFIG_FIELDS = (*SCORING, "seed")


def _types() -> tuple[Any, Any]:
    try:
        from lswag_plugin.cli._common import non_negative_int, positive_int
    except ImportError:  # an older checkout: unchecked integers
        return int, int
    return positive_int, non_negative_int


def _flags() -> dict[str, tuple[str, dict[str, Any]]]:
    positive, non_negative = _types()
    return {
        "data": (
            "--data",
            {
                "default": None,
                "help": "image batch: .npz or image folder",
            },
        ),
        "data_dir": (
            "--data-dir",
            {
                "type": Path,
                "default": None,
                "help": "ground-truth folder",
            },
        ),
        "batch_size": (
            "--batch-size",
            {"type": positive, "default": 64, "help": "images in the batch"},
        ),
        "minibatches": (
            "--minibatches",
            {
                "type": positive,
                "default": 2,
                "help": "K minibatches of the batch",
            },
        ),
        "resolution": (
            "--resolution",
            {
                "type": positive,
                "default": None,
                "help": "input size",
            },
        ),
        "num_classes": (
            "--num-classes",
            {
                "type": positive,
                "default": 10,
                "help": "classes of the networks",
            },
        ),
        "seed": (
            "--seed",
            {
                "type": non_negative,
                "default": 0,
                "help": "seed of the batch, the initialisations and the passes",
            },
        ),
        "sample": (
            "--sample",
            {
                "type": positive,
                "default": None,
                "help": "rows of the table drawn with --seed",
            },
        ),
        "device": (
            "--device",
            {"default": "cpu", "help": "cpu, cuda, cuda:N or auto"},
        ),
        "precision": (
            "--precision",
            {
                "choices": ("float32", "bfloat16", "float16"),
                "default": None,
                "help": "autocast the shared forwards",
            },
        ),
        "threads": (
            "--threads",
            {
                "type": positive,
                "default": None,
                "help": "torch CPU threads, 1 is fastest on a busy CPU",
            },
        ),
        "workers": (
            "--workers",
            {
                "type": positive,
                "default": 1,
                "help": "candidates scored at once, each in a worker process",
            },
        ),
        "cache": (
            "--cache",
            {
                "default": "none",
                "help": "score cache: a file, 'auto' (the user cache) or 'none'",
            },
        ),
        "json": (
            "--json",
            {
                "type": Path,
                "default": None,
                "metavar": "PATH",
                "help": "also write the result object (the last line of stdout) to this JSON file",
            },
        ),
    }


#: The names :func:`add_flags` knows (argparse ``dest`` names), in their order of appearance.
FLAGS = tuple(_flags())


def add_flags(
    parser: argparse.ArgumentParser,
    *names: str,
    many: Iterable[str] = (),
    helps: Mapping[str, str] | None = None,
    **defaults: Any,
) -> None:
    """Adds the common flags ``names`` (of :data:`FLAGS`) to ``parser``.

    Args:
        parser: The script's parser.
        *names: Flag names (``"batch_size"`` adds ``--batch-size``); :data:`SCORING` is the scoring set.
        many: Names whose flag takes one or more values (a list; a scalar default becomes ``[default]``).
        helps: Name → help text replacing the common one (the default is appended to it).
        **defaults: Name → the script's default, replacing the common one.

    Raises:
        KeyError: A name (or a default's name) that is not a common flag.
    """
    specs = _flags()
    unknown = sorted((set(names) | set(defaults) | set(many) | set(helps or {})) - set(specs))
    if unknown:
        raise KeyError(f"not common flags: {', '.join(unknown)}; known: {', '.join(specs)}")
    many = set(many)
    for name in names:
        flag, kwargs = specs[name]
        kwargs = dict(kwargs)
        if name in defaults:
            kwargs["default"] = defaults[name]
        if helps and name in helps:
            kwargs["help"] = helps[name]
        if name != "json":
            default = kwargs["default"]
            shown = _NONE_MEANS.get(name, "None") if default is None else default
            kwargs["help"] += f" (default: {shown})".replace("%", "%%")
        if name in many:
            kwargs["nargs"] = "+"
            if kwargs["default"] is not None and not isinstance(kwargs["default"], list | tuple):
                kwargs["default"] = [kwargs["default"]]
        parser.add_argument(flag, **kwargs)


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """Returns the parsed flags, with the ground-truth folder and ``--data`` resolved and threads set.

    ``--data-dir`` becomes a :class:`~pathlib.Path` (its default: ``$LSWAG_DATA``, else
    ``../shared/data``); a ``--data`` written ``<data-dir>/...`` becomes a path inside it; ``--threads``
    sets torch's CPU thread count for the whole script (what its plain passes run with too).
    """
    args = parser.parse_args(argv)
    if "data_dir" in vars(args) or _in_data_dir(getattr(args, "data", None)):
        from lswag_plugin.data import shared_data_dir

        args.data_dir = shared_data_dir(getattr(args, "data_dir", None))
    if _in_data_dir(getattr(args, "data", None)):
        args.data = str(args.data_dir / args.data[len(_DATA_DIR_PREFIX) :])
    if getattr(args, "threads", None):
        import torch

        torch.set_num_threads(args.threads)
    return args


def _in_data_dir(data: Any) -> bool:
    return isinstance(data, str) and data.startswith(_DATA_DIR_PREFIX)


def scoring_config(args: argparse.Namespace, **overrides: Any) -> Any:
    """Returns the :class:`~lswag_plugin.engine.ScoringConfig` of the parsed flags.

    Reads the flags of :data:`SCORING` and ``--seed`` that the parser has; ``overrides`` (fields of
    ``ScoringConfig``) replace them, e.g. the score seed of a script whose ``--seed`` draws its sample,
    or one value of a flag that takes several.

    Raises:
        SystemExit: A setting out of range, or ``--device cuda`` without CUDA (before any work).
    """
    from lswag_plugin.engine import ScoringConfig
    from lswag_plugin.errors import LswagError

    fields = {f: getattr(args, f) for f in _CONFIG_FIELDS if f in vars(args)}
    fields.update(overrides)
    try:
        config = ScoringConfig(**fields)
        config.torch_device()
    except (ValueError, LswagError) as exc:
        raise SystemExit(f"error: {exc}") from exc
    return config


def open_cache(args: argparse.Namespace) -> Any:
    """Returns the :class:`~lswag_plugin.cache.ScoreCache` of ``--cache`` (None for ``none``)."""
    from lswag_plugin.cli._common import open_cache as open_spec

    return open_spec(args.cache)


def _builtin(value: Any) -> Any:
    """``value`` with numpy scalars and arrays, paths and tuples made plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _builtin(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_builtin(v) for v in value]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":
        return _builtin(value.tolist())
    return value


def emit(result: Mapping[str, Any], path: str | os.PathLike[str] | None = None) -> None:
    """Prints ``result`` as one line of strict JSON (the last line of stdout), and writes it to ``path``.

    Non-finite floats become strict JSON (NaN → null, ±inf → ``"inf"``/``"-inf"``); numpy values and
    paths become plain values. The file (its folder created) holds the same object, indented.
    """
    try:
        from lswag_plugin.output import json_safe, print_json_line
    except ImportError:  # an older checkout: JSON as json.dumps writes it

        def json_safe(value: Any) -> Any:
            return value

        def print_json_line(obj: Any) -> None:
            print(json.dumps(obj), flush=True)

    plain = _builtin(result)
    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(json_safe(plain), indent=1) + "\n")
    print_json_line(plain)
