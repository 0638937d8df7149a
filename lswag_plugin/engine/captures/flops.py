"""FLOPs of one forward of one sample, counted during the first shared forward."""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from lswag_plugin.engine.captures._base import Capture, Piece, Run, capture_for
from lswag_plugin.engine.registry import Needs

__all__ = ["FlopsCapture"]

FLOPS = Needs.define("FLOPS", "a FLOP count of one forward (counted during the shared forward)")


@capture_for(FLOPS)
class FlopsCapture(Capture):
    """Wraps the first piece's forward in ``torch.utils.flop_counter.FlopCounterMode`` (2 per MAC)."""

    publishes: ClassVar[dict[str, str]] = {
        "flops": "float: FLOPs of one forward of one sample",
    }

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.flops: float | None = None
        self._counter: Any = None

    def forward_context(self, piece: Piece) -> contextlib.AbstractContextManager[Any] | None:
        if self.flops is not None or piece.start != 0:
            return None
        from torch.utils.flop_counter import FlopCounterMode

        self._counter = FlopCounterMode(display=False)
        return self._counter

    def after_forward(self, piece: Piece, output: Any) -> None:
        if self._counter is not None:
            self.flops = self._counter.get_total_flops() / piece.size
            self._counter = None

    def publish(self, ctx: Any) -> None:
        ctx.captured["flops"] = self.flops
