"""Builds the tables ``lswag`` reads from verified upstream files (see :mod:`lswag_plugin.data.catalog`).

Every builder receives the paths of its sources *after* their sha256 matched the pinned one, and writes
its table atomically (:func:`atomic_writer`: a temporary file in the same folder, renamed over the final
name), so a reader never sees half a table.

``nb201`` (``nb201_accuracy.csv``, one row per cell in NAS-Bench-201 index order):

- ``index``, ``arch_str``, ``cifar10_valid_acc``: NAS-Landscapes' ``cifar10_avg.csv`` (``index``,
  ``arch_str``, ``valid-accuracy``; NATS-Bench TSS, 200 epochs, mean over seeds);
- ``cifar10_test_acc``: ``test_top1`` of nas-without-training's ``arch_score_acc.pd`` (a pandas
  DataFrame pickle, one row per index, its ``cellstr`` equal to ``arch_str``);
- ``params_m_cifar10``, ``params_m_cifar100``, ``cifar100_test_acc``: constrained-tpe's
  ``metric_vals.pkl``, ``{dataset: {loss, runtime, size_in_mb}}`` with one entry per training run (2 or 3
  seeds per cell, in index order, no index field): a new cell starts where ``runtime`` or ``size_in_mb``
  changes (:func:`group_runs`); accuracy = mean of 100 − loss, #params = mean ``size_in_mb``;
- ``naslib_op_indices``: NASLib's key of the cell (:func:`naslib_op_indices`).

Numbers are written as Python's ``str(round(value, 6))``, rows end in CRLF (``csv`` module defaults).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import pickle
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, ClassVar

import numpy as np

from lswag_plugin.errors import BadData

__all__ = [
    "NB201_COLUMNS",
    "atomic_writer",
    "build_autoformer",
    "build_nb201",
    "group_runs",
    "naslib_op_indices",
    "read_ctpe",
]

#: Columns of the built NB201 table, in order.
NB201_COLUMNS = (
    "index",
    "arch_str",
    "naslib_op_indices",
    "params_m_cifar10",
    "params_m_cifar100",
    "cifar10_valid_acc",
    "cifar10_test_acc",
    "cifar100_test_acc",
)
#: NASLib's NB201 op indices (``naslib/search_spaces/nasbench201/conversions.py``).
_NASLIB_OPS = {
    "skip_connect": 0,
    "none": 1,
    "nor_conv_3x3": 2,
    "nor_conv_1x1": 3,
    "avg_pool_3x3": 4,
}
#: NASLib's edge order (1→2, 1→3, 1→4, 2→3, 2→4, 3→4, nodes from 1) as (to node, from node), nodes from 0.
_NASLIB_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
#: Largest |constrained-tpe CIFAR-10 accuracy − NAS-Landscapes valid-accuracy| of one cell: both are the
#: same NATS-Bench means (measured: ≤ 4e-7); a larger gap means the runs were grouped out of index order.
_ALIGN_TOLERANCE = 1e-5


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str], mode: str = "w", **open_args: Any) -> Iterator[IO]:
    """Opens a temporary file beside ``path``; on success it replaces ``path`` (one rename).

    On any exception (or interruption) the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> with atomic_writer(folder / "t.txt") as f:
        ...     _ = f.write("done")
        >>> (folder / "t.txt").read_text(), sorted(p.name for p in folder.iterdir())
        ('done', ['t.txt'])
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        with os.fdopen(fd, mode, **open_args) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def naslib_op_indices(arch_str: str) -> str:
    """Returns NASLib's key of an NB201 cell: its 6 op indices in NASLib's edge order, as a tuple string.

    Raises:
        BadData: Not an NB201 string.

    Example:
        >>> naslib_op_indices(
        ...     "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"
        ... )
        '(4, 3, 3, 0, 0, 0)'
    """
    ops: dict[tuple[int, int], str] = {}
    nodes = arch_str.strip("|").split("|+|") if arch_str.startswith("|") else []
    for to, node in enumerate(nodes, start=1):
        for item in node.split("|"):
            op, _, frm = item.partition("~")
            if not frm.isdigit():
                break
            ops[(to, int(frm))] = op
    if (
        len(nodes) != 3
        or set(ops) != set(_NASLIB_EDGES)
        or not set(ops.values()) <= set(_NASLIB_OPS)
    ):
        raise BadData(f"not an NB201 cell string: {arch_str!r}")
    return str(tuple(_NASLIB_OPS[ops[edge]] for edge in _NASLIB_EDGES))


def _number(value: Any) -> str:
    return str(round(float(value), 6))


def _read_landscapes(path: Path) -> tuple[list[str], np.ndarray]:
    """Returns (arch strings, valid accuracies) of NAS-Landscapes' ``cifar10_avg.csv``, row i = index i."""
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        need = {"index", "arch_str", "valid-accuracy"}
        if not need <= set(reader.fieldnames or ()):
            raise BadData(f"{path}: expected columns {sorted(need)}, found {reader.fieldnames}")
        rows = list(reader)
    for i, row in enumerate(rows):
        if row["index"] != str(i):
            raise BadData(
                f"{path}: row {i} has index {row['index']!r}; rows must be in index order"
            )
    if not rows:
        raise BadData(f"{path}: no rows")
    return [r["arch_str"] for r in rows], np.array([float(r["valid-accuracy"]) for r in rows])


def _read_bayeswatch(path: Path, archs: Sequence[str]) -> np.ndarray:
    """Returns ``test_top1`` of nas-without-training's DataFrame pickle, checked row by row against ``archs``."""
    import pandas as pd

    # A pickle can run code when loaded: this one is read only after its sha256 matched the pinned
    # hash (lswag_plugin.data.store verifies every source before a builder sees it).
    frame = pd.read_pickle(path)
    if not isinstance(frame, pd.DataFrame) or not {"cellstr", "test_top1"} <= set(frame.columns):
        raise BadData(f"{path}: expected a DataFrame with columns 'cellstr' and 'test_top1'")
    if len(frame) != len(archs):
        raise BadData(f"{path}: {len(frame)} rows, the accuracy table has {len(archs)}")
    cells = frame["cellstr"].tolist()
    for i, (cell, arch) in enumerate(zip(cells, archs)):
        if cell != arch:
            raise BadData(f"{path}: row {i} is {cell!r}, index {i} is {arch!r}")
    return frame["test_top1"].to_numpy(dtype=np.float64)


class _ArraysOnly(pickle.Unpickler):
    """Unpickles dicts, lists, numbers and numpy arrays only (constrained-tpe's ``metric_vals.pkl``)."""

    _ALLOWED: ClassVar[set[tuple[str, str]]] = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not an array type")
        return super().find_class(module, name)


def group_runs(runtime: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Returns each run's cell number: a new cell starts where ``runtime`` or ``size`` changes.

    Example:
        >>> group_runs(np.array([5.0, 5.0, 7.0, 7.0, 7.0]), np.array([1.0, 1.0, 1.0, 1.0, 1.0])).tolist()
        [0, 0, 1, 1, 1]
    """
    new = np.ones(len(runtime), dtype=bool)
    new[1:] = (runtime[1:] != runtime[:-1]) | (size[1:] != size[:-1])
    return np.cumsum(new) - 1


def read_ctpe(path: str | os.PathLike[str]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Returns ``{dataset: (accuracy, #params)}`` per cell from constrained-tpe's ``metric_vals.pkl``.

    Raises:
        BadData: Not ``{dataset: {loss, runtime, size_in_mb}}`` of equal-length arrays.
    """
    p = Path(path)
    try:
        # Read only after its sha256 matched the pinned hash; the unpickler admits arrays only.
        with p.open("rb") as f:
            data = _ArraysOnly(f).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise BadData(f"{p}: not constrained-tpe's metric_vals.pkl ({exc})") from exc
    if not isinstance(data, dict):
        raise BadData(f"{p}: expected {{dataset: {{loss, runtime, size_in_mb}}}}")
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for dataset, metrics in data.items():
        keys = ("loss", "runtime", "size_in_mb")
        if not isinstance(metrics, dict) or not all(k in metrics for k in keys):
            raise BadData(f"{p}: {dataset!r} needs arrays {keys}")
        loss, runtime, size = (np.asarray(metrics[k], dtype=np.float64) for k in keys)
        if not loss.ndim == 1 or not len(loss) == len(runtime) == len(size):
            raise BadData(f"{p}: {dataset!r}: loss, runtime and size_in_mb differ in length")
        cell = group_runs(runtime, size)
        runs = np.bincount(cell)
        out[dataset] = (
            np.bincount(cell, weights=100.0 - loss) / runs,
            np.bincount(cell, weights=size) / runs,
        )
    return out


def build_nb201(sources: Mapping[str, Path], out: Path) -> None:
    """Writes ``nb201_accuracy.csv`` from NAS-Landscapes, nas-without-training and constrained-tpe.

    Args:
        sources: Verified paths by key: ``landscapes``, ``bayeswatch``, ``ctpe``.
        out: The table to write (atomically).

    Raises:
        BadData: A source is not in its format, or the sources disagree (rows, cell strings, accuracies).
    """
    archs, valid = _read_landscapes(sources["landscapes"])
    test = _read_bayeswatch(sources["bayeswatch"], archs)
    ctpe = read_ctpe(sources["ctpe"])
    for dataset in ("cifar10", "cifar100"):
        if dataset not in ctpe:
            raise BadData(f"{sources['ctpe']}: no {dataset!r}; it has {sorted(ctpe)}")
        if len(ctpe[dataset][0]) != len(archs):
            raise BadData(
                f"{sources['ctpe']}: {dataset}'s runs form {len(ctpe[dataset][0])} cells (a new cell "
                f"where runtime or size_in_mb changes); the accuracy table has {len(archs)}"
            )
    gap = float(np.max(np.abs(ctpe["cifar10"][0] - valid)))
    if not gap <= _ALIGN_TOLERANCE:
        raise BadData(
            f"{sources['ctpe']}: cifar10 accuracies differ from {sources['landscapes'].name}'s "
            f"valid-accuracy by up to {gap:.3g} (cells grouped out of index order?)"
        )
    (c100_acc, c100_params), c10_params = ctpe["cifar100"], ctpe["cifar10"][1]
    with atomic_writer(out, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(NB201_COLUMNS)
        for i, arch in enumerate(archs):
            writer.writerow(
                [i, arch, naslib_op_indices(arch)]
                + [
                    _number(v)
                    for v in (c10_params[i], c100_params[i], valid[i], test[i], c100_acc[i])
                ]
            )


def build_autoformer(sources: Mapping[str, Path], out: Path) -> None:
    """Writes Auto-Prox's ``gt_autoformer.pth`` (plain lists and dicts) as JSON (``indent=0``).

    Raises:
        BadData: The file holds anything but lists, dicts, strings and numbers.
    """
    import torch

    path = sources["autoformer"]
    try:
        # weights_only: torch's restricted unpickler (no code runs), on a file whose sha256 matched.
        obj = torch.load(path, map_location="cpu", weights_only=True)
        text = json.dumps(obj, indent=0, allow_nan=False)
    except (RuntimeError, pickle.UnpicklingError, TypeError, ValueError) as exc:
        raise BadData(f"{path}: not a .pth of plain lists and dicts ({exc})") from exc
    with atomic_writer(out, "wb") as f:
        f.write(text.encode())
