"""Ground-truth tables: one row per architecture, read from CSV, JSON or NASLib's zero-cost files.

NASLib's NAS-Bench-Suite-Zero files (``naslib/data/zc_nasbench{101,201,301}.json`` of automl/NASLib,
Apache-2.0; gzipped or not) are read as tables directly (:func:`read_naslib_table`): one row per
architecture of one dataset, the architecture as the canonical string of our space.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lswag_plugin.data import dataset_names, resolve_table
from lswag_plugin.errors import BadArchitecture, BadData

__all__ = ["NASLIB_NB201_OPS", "Table", "nb201_from_naslib_key", "read_naslib_table", "read_table"]


def _number(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Table:
    """Rows of a ground-truth table (dicts), with the path they came from.

    Example:
        >>> t = Table(Path("t.csv"), [{"arch": "a", "acc": "1"}, {"arch": "b", "acc": ""}])
        >>> t.columns, t.labelled("acc")[1]
        (['arch', 'acc'], 1)
    """

    path: Path
    rows: list[dict[str, Any]]
    #: The dataset the rows belong to, where the file holds several (NASLib files).
    dataset: str | None = None

    @property
    def columns(self) -> list[str]:
        """Column names (of the first row)."""
        return list(self.rows[0]) if self.rows else []

    def require(self, *columns: str) -> None:
        """Raises :class:`BadData` naming any column the table lacks."""
        missing = [c for c in columns if c not in self.columns]
        if missing:
            raise BadData(f"{self.path}: no column(s) {missing}; columns are {self.columns}")

    def labelled(self, target: str) -> tuple[list[dict[str, Any]], int]:
        """Returns the rows whose ``target`` is a number, and how many were skipped (null/NaN)."""
        keep = [r for r in self.rows if not math.isnan(_number(r.get(target)))]
        return keep, len(self.rows) - len(keep)

    @staticmethod
    def sample(rows: list[dict[str, Any]], n: int | None, seed: int) -> list[dict[str, Any]]:
        """Returns ``n`` rows drawn without replacement with ``seed``, in random order.

        ``n`` of at least the number of rows gives every row, shuffled (so an interrupted run is still a
        random subset); ``n`` None gives every row in table order.
        """
        if n is None:
            return list(rows)
        idx = np.random.default_rng(seed).choice(len(rows), size=min(n, len(rows)), replace=False)
        return [rows[i] for i in idx]


def read_table(path: str | Path) -> Table:
    """Returns the table at ``path``: a CSV file, a JSON list of objects (or ``{"rows": [...]}``), or a
    NASLib zero-cost file (``.json`` or ``.json.gz``; ``PATH#DATASET`` picks its dataset, see
    :func:`read_naslib_table`).

    ``path`` may also be a dataset name of ``lswag data list`` (``nb201``, ``nb101``, ``nb201-zc#cifar100``
    ...), unless a file of that name exists: its table is read from the data home, fetched and built on
    first use (:func:`lswag_plugin.data.table_path`).

    Raises:
        BadData: The file is missing, empty or not a table.
        DataUnavailable: A dataset name whose table is not fetched and cannot be now (no network); the
            message names ``lswag data fetch NAME``.
    """
    p, dataset = _split_dataset(path)
    if not p.exists():
        raise BadData(
            f"table {str(p)!r} does not exist (a path, or a dataset name: "
            f"{', '.join(dataset_names())}; see `lswag data list`)"
        )
    is_json = p.name.lower().endswith((".json", ".json.gz"))
    data = _load_json(p) if is_json else None
    if is_json and _naslib_datasets(data) is not None:
        return read_naslib_table(p, dataset=dataset, data=data)
    if dataset is not None:
        raise BadData(
            f"{p}: '#{dataset}' picks a dataset of a NASLib zero-cost file; this is a table"
        )
    if is_json:
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadData(f"{p}: a JSON table must be a list of objects (one per architecture)")
    else:
        with p.open(newline="") as f:
            rows = list(csv.DictReader(f))
    if not rows:
        raise BadData(f"{p}: the table has no rows")
    return Table(p, rows)


def _split_dataset(path: str | Path) -> tuple[Path, str | None]:
    """Splits ``PATH#DATASET`` (when ``PATH`` itself does not exist) into the path and the dataset;
    resolves a dataset name (``NAME`` or ``NAME#DATASET``) to its table when no such file exists."""
    p = Path(path)
    text = str(path)
    if not p.is_file():
        named = resolve_table(text)
        if named is not None:
            return named
    if not p.exists() and "#" in text:
        head, _, dataset = text.rpartition("#")
        if Path(head).exists():
            return Path(head), dataset
    return p, None


def _load_json(p: Path) -> Any:
    try:
        if p.name.lower().endswith(".gz"):
            with gzip.open(p, "rt") as f:
                return json.load(f)
        return json.loads(p.read_text())
    except (OSError, EOFError, json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadData(f"{p}: not valid JSON ({exc})") from exc


# --- NASLib zero-cost files ------------------------------------------------------------------

#: NASLib's NB201 op indices (``naslib/search_spaces/nasbench201/conversions.py``) → NB201 op names.
NASLIB_NB201_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
#: NASLib's NB201 edge order (1→2, 1→3, 1→4, 2→3, 2→4, 3→4 with nodes numbered from 1) as
#: (to node, from node) with nodes from 0, the convention of :data:`lswag_plugin.spaces.nb201.EDGES`.
_NASLIB_NB201_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))
#: Fields of a NASLib entry copied as they are (``params`` and ``flops`` as their score); every other
#: field holding a score is a published proxy score, written ``published_<name>``.
_NASLIB_FIELDS = ("idx", "val_accuracy", "test_accuracy", "train_time", "params", "flops")
_INT = re.compile(r"-?\d+")


def nb201_from_naslib_key(key: str) -> str:
    """Returns the NB201 string of a NASLib NB201 key (6 op indices, see :data:`NASLIB_NB201_OPS`).

    Raises:
        BadArchitecture: Not 6 indices in 0..4.

    Example:
        >>> nb201_from_naslib_key("(0, 2, 3, 2, 3, 1)")
        '|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|'
    """
    from lswag_plugin.spaces.nb201 import EDGES, to_arch_str

    idx = [int(v) for v in _INT.findall(key)]
    if len(idx) != 6 or not all(0 <= i < len(NASLIB_NB201_OPS) for i in idx):
        raise BadArchitecture(
            f"nb201: a NASLib key is 6 op indices in 0..4, got {key!r}; indices are "
            + ", ".join(f"{i}={n}" for i, n in enumerate(NASLIB_NB201_OPS))
        )
    by_edge = {edge: NASLIB_NB201_OPS[i] for edge, i in zip(_NASLIB_NB201_EDGES, idx)}
    return to_arch_str([by_edge[edge] for edge in EDGES])


def _looks_like_key(key: Any) -> bool:
    return isinstance(key, str) and key.lstrip().startswith(("(", "["))


def _naslib_datasets(data: Any) -> dict[str, dict[str, Any]] | None:
    """Returns ``{dataset: {key: entry}}`` of a NASLib zero-cost file, or None if ``data`` is not one."""
    node = data
    while isinstance(node, dict) and node and all(isinstance(v, dict) for v in node.values()):
        inner = next(iter(node.values()))
        if inner and all(_looks_like_key(k) for k in inner):
            entries = [e for d in node.values() for e in d.values()]
            if all(isinstance(e, dict) and "val_accuracy" in e for e in entries):
                return node
            return None
        if len(node) != 1:
            return None
        node = inner
    return None


def _naslib_space(keys: list[str]) -> str:
    first = keys[0].lstrip()
    if first.startswith("["):
        return "darts"
    n = len(_INT.findall(first))
    return "nb201" if n == 6 else "nb101"


def _score(value: Any) -> float:
    return _number(value.get("score") if isinstance(value, dict) else value)


def read_naslib_table(
    path: str | Path, *, dataset: str | None = None, space: str | None = None, data: Any = None
) -> Table:
    """Returns one dataset of a NASLib zero-cost file (NAS-Bench-Suite-Zero) as a table.

    Each row: ``arch`` (the canonical string of the space: ``nb101`` / ``darts`` JSON, the NB201 string;
    NB201 rows repeat it as ``arch_str``, the nb201 space's default column), ``naslib_key`` (the file's
    key), ``idx`` where the file has it, ``val_accuracy``, ``params`` (millions), ``flops``, and each
    published proxy score as ``published_<name>`` (the score only, not its time).

    Args:
        path: The file (``.json`` or ``.json.gz``).
        dataset: Dataset to read (``cifar10``, ``cifar100``...); default ``cifar10`` if the file has it,
            else its only dataset.
        space: ``nb101``, ``nb201`` or ``darts``; default: recognised from the keys.
        data: The file's parsed JSON, if already read.

    Raises:
        BadData: Not a NASLib zero-cost file, an unknown dataset, or a key that is not an architecture.
    """
    p = Path(path)
    datasets = _naslib_datasets(_load_json(p) if data is None else data)
    if datasets is None:
        raise BadData(f"{p}: not a NASLib zero-cost file ({{dataset: {{arch key: {{...}}}}}})")
    if dataset is None:
        several = len(datasets) > 1
        dataset = "cifar10" if several or "cifar10" in datasets else next(iter(datasets))
    if dataset not in datasets:
        raise BadData(
            f"{p}: no dataset {dataset!r}; datasets are {', '.join(datasets)} (pick one with PATH#DATASET)"
        )
    entries = datasets[dataset]
    if not entries:
        raise BadData(f"{p}: dataset {dataset!r} has no rows")
    space = space or _naslib_space(list(entries))
    if space == "nb101":
        from lswag_plugin.spaces.nb101 import from_naslib_key as nb101_key

        def convert(key: str) -> str:
            return json.dumps(nb101_key(key), sort_keys=True, separators=(",", ":"))
    elif space == "darts":
        from lswag_plugin.spaces.darts import from_naslib_key as darts_key

        def convert(key: str) -> str:
            return json.dumps(darts_key(key), sort_keys=True, separators=(",", ":"))
    elif space == "nb201":
        convert = nb201_from_naslib_key
    else:
        raise BadData(f"unknown NASLib space {space!r}; spaces are nb101, nb201, darts")
    rows: list[dict[str, Any]] = []
    for key, entry in entries.items():
        try:
            arch = convert(key)
        except BadArchitecture as exc:
            raise BadData(
                f"{p}: key {key!r} of {dataset} is not a {space} architecture: {exc}"
            ) from exc
        row: dict[str, Any] = {"arch": arch}
        if space == "nb201":
            row["arch_str"] = arch
        row["naslib_key"] = key
        for name in _NASLIB_FIELDS:
            if name in entry:
                row[name] = entry[name] if name == "idx" else _score(entry[name])
        for name, value in entry.items():
            is_score = value is None or isinstance(value, int | float)
            is_score |= isinstance(value, dict) and "score" in value
            if is_score and name not in _NASLIB_FIELDS and name != "arch":
                row[f"published_{name}"] = _score(value)
        rows.append(row)
    return Table(p, rows, dataset=dataset)


def target_values(rows: list[dict[str, Any]], target: str) -> list[float]:
    """Returns the ``target`` column as floats."""
    return [_number(r.get(target)) for r in rows]
