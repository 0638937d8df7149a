"""What every report writes through: progress bars, JSON-safe values, figures.

Library code (bench, band, compare, search) and the command-line tool share these, so the CLI is never
imported by the library.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from lswag_plugin.errors import LswagError

__all__ = ["figure", "json_safe", "print_json_line", "progress", "pyplot"]

T = TypeVar("T")


def json_safe(value: Any) -> Any:
    """Returns ``value`` with non-finite floats made strict-JSON: NaN → None, ±inf → ``"inf"``/``"-inf"``.

    Example:
        >>> json_safe({"a": [1.0, float("nan"), float("-inf")]})
        {'a': [1.0, None, '-inf']}
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


def from_json_float(value: Any) -> float:
    """Returns the float :func:`json_safe` wrote (None → NaN, ``"inf"``/``"-inf"`` → ±inf)."""
    if value is None:
        return math.nan
    return float(value)


def print_json_line(obj: dict[str, Any]) -> None:
    """Prints ``obj`` as one line of strict JSON (:func:`json_safe`)."""
    print(json.dumps(json_safe(obj), sort_keys=False), flush=True)


def progress(
    items: Iterable[T], *, total: int | None = None, desc: str = "", disable: bool = False
) -> Iterator[T]:
    """Yields ``items`` with a tqdm progress bar (with ETA) on stderr."""
    from tqdm.auto import tqdm

    yield from tqdm(
        items, total=total, desc=desc, disable=disable, file=sys.stderr, dynamic_ncols=True
    )


def pyplot() -> Any:
    """Returns ``matplotlib.pyplot`` on the non-interactive Agg backend.

    Raises:
        LswagError: matplotlib is not installed (the message names the extra to install).
    """
    try:
        import matplotlib
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise LswagError(
            "plots need matplotlib: pip install 'lswag-plugin[plot]' (or pip install matplotlib)"
        ) from exc
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


@contextlib.contextmanager
def figure(
    path: str | os.PathLike[str],
    *,
    figsize: tuple[float, float] = (5, 4),
    dpi: int = 110,
    formats: tuple[str, ...] = (".png",),
    **kwargs: Any,
) -> Iterator[tuple[Any, Any]]:
    """Yields ``(fig, ax)`` (``plt.subplots(**kwargs)``); on exit writes the figure to ``path`` and closes it.

    The folder is created. ``kwargs`` go to ``plt.subplots`` (e.g. ``ncols=2``).

    Args:
        path: The output file.
        figsize: Inches.
        dpi: Resolution of raster formats.
        formats: Accepted file suffixes (default PNG only).
        **kwargs: Passed to ``plt.subplots``.

    Raises:
        ValueError: ``path`` does not end in one of ``formats``.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "plot.png"
        >>> with figure(out) as (fig, ax):
        ...     _ = ax.plot([0, 1], [1, 0])
        >>> out.exists()
        True
    """
    out = Path(path)
    if out.suffix.lower() not in formats:
        raise ValueError(
            f"plots are written as {'/'.join(f[1:].upper() for f in formats)}; give a path ending in "
            f"{' or '.join(formats)}, got {out}"
        )
    plt = pyplot()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=figsize, dpi=dpi, **kwargs)
    try:
        yield fig, ax
        fig.tight_layout()
        fig.savefig(out)
    finally:
        plt.close(fig)
