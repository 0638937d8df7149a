"""Ground-truth tables: one row per architecture, read from CSV or JSON."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lswag_plugin.errors import BadData

__all__ = ["Table", "read_table"]


def _number(value: Any) -> float:
    if value is None or value == "":
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


@dataclass
class Table:
    """Rows of a ground-truth table (dicts), with the path they came from."""

    path: Path
    rows: list[dict[str, Any]]

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
        """Returns ``n`` rows drawn without replacement with ``seed`` (all rows, in order, if ``n`` is None)."""
        if n is None or n >= len(rows):
            return list(rows)
        idx = np.random.default_rng(seed).choice(len(rows), size=n, replace=False)
        return [rows[i] for i in idx]


def read_table(path: str | Path) -> Table:
    """Returns the table at ``path``: a CSV file, or a JSON list of objects (or ``{"rows": [...]}``).

    Raises:
        BadData: The file is missing, empty or not a table.
    """
    p = Path(path)
    if not p.exists():
        raise BadData(f"table {str(p)!r} does not exist")
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text())
        except json.JSONDecodeError as exc:
            raise BadData(f"{p}: not valid JSON ({exc})") from exc
        rows = data.get("rows") if isinstance(data, dict) else data
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BadData(f"{p}: a JSON table must be a list of objects (one per architecture)")
    else:
        with p.open(newline="") as f:
            rows = list(csv.DictReader(f))
    if not rows:
        raise BadData(f"{p}: the table has no rows")
    return Table(p, rows)


def target_values(rows: list[dict[str, Any]], target: str) -> list[float]:
    """Returns the ``target`` column as floats."""
    return [_number(r.get(target)) for r in rows]
