"""The result of one scoring call."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Scores"]


@dataclass(frozen=True)
class Scores(Mapping[str, float]):
    """A mapping proxy name → score, with what it cost and how it was computed.

    Attributes:
        values: Proxy name → score (NaN where the model's output was not finite).
        directions: Proxy name → ``"max"`` or ``"min"``.
        seconds: Wall-clock seconds of the whole call.
        passes: The passes the engine ran, in order (e.g. ``["forward+backward x2", "synflow"]``).
        components: Sub-scores, e.g. ``{"lswag.lambda": Λ, "lswag.psi": Ψ}``.
        meta: Batch size, device, layer band, seed.

    Example:
        >>> s = Scores(values={"lswag": 3.0}, directions={"lswag": "max"})
        >>> s["lswag"], s.better_than(Scores(values={"lswag": 2.0}, directions={"lswag": "max"}), "lswag")
        (3.0, True)
    """

    values: dict[str, float]
    directions: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    passes: list[str] = field(default_factory=list)
    components: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def __getitem__(self, name: str) -> float:
        return self.values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)

    def signed(self, name: str) -> float:
        """Returns the score oriented so that higher is better (negated for ``"min"`` proxies)."""
        value = self.values[name]
        return -value if self.directions.get(name, "max") == "min" else value

    def better_than(self, other: Scores, name: str) -> bool:
        """Whether this score of ``name`` is strictly better than ``other``'s (NaN is never better)."""
        a, b = self.signed(name), other.signed(name)
        if math.isnan(a):
            return False
        return math.isnan(b) or a > b

    def as_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict of everything in this result."""
        return {
            "scores": dict(self.values),
            "directions": dict(self.directions),
            "seconds": self.seconds,
            "passes": list(self.passes),
            "components": dict(self.components),
            "meta": dict(self.meta),
        }

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v:.6g}" for k, v in self.values.items())
        return f"Scores({inner}; {self.seconds:.3f}s, passes={self.passes})"
