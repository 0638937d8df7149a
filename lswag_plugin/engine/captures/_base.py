"""The capture protocol: what every capture implements, and the table of needs → captures."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from lswag_plugin.engine.context import PUBLISHED, PassResults
from lswag_plugin.engine.registry import Needs, ProxySpec

__all__ = ["CAPTURES", "Capture", "Piece", "Run", "capture_for", "describe"]


@dataclass
class Run:
    """One model's shared passes, as the captures see them.

    Attributes:
        ctx: The proxy context being filled (model, batch, minibatch sizes, weight layers, ...).
        needs: The planned needs (the union over the planned proxies and what their captures require).
        specs: The planned proxies (the required ones included), for error messages.
        minibatches: K.
        gradient_hooks: False while a capture runs a backward of its own in the shared forward's graph
            (input gradients, block probes): gradient hooks meant for the loss's backward skip it.
        finite: Whether every output and loss so far was finite.
    """

    ctx: PassResults
    needs: Needs
    specs: tuple[ProxySpec, ...] = ()
    minibatches: int = 1
    gradient_hooks: bool = True
    finite: bool = True

    @contextlib.contextmanager
    def own_backward(self) -> Any:
        """Switches the loss-backward gradient hooks off for a capture's own backward."""
        self.gradient_hooks = False
        try:
            yield
        finally:
            self.gradient_hooks = True


@dataclass
class Piece:
    """One forward (and backward) of the shared passes: a minibatch, or a piece of one after OOM back-off.

    Attributes:
        minibatch: The minibatch's index ``k``.
        start: Index in the batch of the piece's first sample.
        size: Samples in the piece.
        minibatch_start: Index in the batch of the minibatch's first sample.
        minibatch_size: Samples in the minibatch.
        inputs: The piece's inputs (a capture may replace them before the forward, e.g. with a copy
            that requires gradients).
        targets: The piece's labels.
    """

    minibatch: int
    start: int
    size: int
    minibatch_start: int
    minibatch_size: int
    inputs: torch.Tensor
    targets: torch.Tensor

    @property
    def first(self) -> bool:
        """Whether this is the first piece of its minibatch."""
        return self.start == self.minibatch_start


class Capture:
    """Gathers one thing a proxy reads, during the shared passes or in a pass of its own.

    Lifecycle, called by :func:`lswag_plugin.engine.passes.run_passes` on every active capture, in the
    order of :data:`CAPTURES`:

    1. ``__init__(run)``; :meth:`attach` registers hooks on ``run.ctx.model`` with
       ``stack.callback`` (every hook is removed when the passes end, even on error).
    2. Per minibatch ``k``: :meth:`begin_minibatch` (also before each retry after out-of-memory); per
       piece: :meth:`start`, the forward (inside every :meth:`forward_context`), :meth:`after_forward`
       (the graph is alive, before the loss backward), the loss backward if any capture needs it;
       then :meth:`commit` (the minibatch succeeded: the weights' ``.grad`` hold its gradient), or, on
       out-of-memory, :meth:`roll_back` before the minibatch is retried in more pieces.
    3. :meth:`publish` writes the result into the context (``ctx.captured``), in table order, after
       every minibatch; a capture with a pass of its own (second order, a special input) runs it here.

    Class attributes say what the engine must plan for it: ``needs`` (set by :func:`capture_for`),
    ``requires`` (needs it reads, e.g. weight gradients), ``backward`` (the shared passes run the loss
    backward), ``shared`` (it joins the shared passes; False: :meth:`publish` only), ``publishes`` (what it writes into the
    context, by attribute name, with a description) and :meth:`passes` (its own passes, for
    ``Scores.passes``).
    """

    needs: ClassVar[Needs] = Needs.NOTHING
    requires: ClassVar[Needs] = Needs.NOTHING
    backward: ClassVar[bool] = False
    shared: ClassVar[bool] = True
    publishes: ClassVar[dict[str, str]] = {}

    def __init__(self, run: Run) -> None:
        self.run = run

    @property
    def ctx(self) -> PassResults:
        """The proxy context of the run."""
        return self.run.ctx

    def can_split(self) -> bool:
        """Whether out-of-memory back-off may retry a minibatch in smaller pieces (rolled back first)."""
        return True

    def attach(self, stack: contextlib.ExitStack) -> None:
        """Registers hooks (each removed through ``stack.callback``) and checks the model."""

    def begin_minibatch(self, minibatch: int, start: int, size: int) -> None:
        """Before an attempt at minibatch ``minibatch`` (samples ``start .. start+size``)."""

    def start(self, piece: Piece) -> None:
        """Before the forward of ``piece``."""

    def forward_context(self, piece: Piece) -> contextlib.AbstractContextManager[Any] | None:
        """Returns a context manager to enter around the forward of ``piece``, or None."""
        return None

    def after_forward(self, piece: Piece, output: torch.Tensor) -> None:
        """After the forward of ``piece`` (its output), before the loss backward."""

    def roll_back(self, minibatch: int, start: int, size: int) -> None:
        """Forgets what a failed (out-of-memory) attempt at the minibatch gathered."""

    def commit(self, minibatch: int) -> None:
        """The minibatch succeeded (the weights' ``.grad`` hold its gradient when a backward ran)."""

    def publish(self, ctx: PassResults) -> None:
        """Writes what was gathered into ``ctx.captured`` (runs a pass of its own if it has one)."""

    @classmethod
    def passes(cls, minibatches: int) -> list[str]:
        """Returns the passes of its own this capture adds with K minibatches (for ``Scores.passes``)."""
        return []

    def proxies(self) -> str:
        """Returns the names of the planned proxies that need this capture (for error messages)."""
        return ", ".join(s.name for s in self.run.specs if s.needs & self.needs)


#: Capture class of every need, in the order the captures run (the order their modules define them).
CAPTURES: dict[Needs, type[Capture]] = {}


def capture_for(*needs: Needs) -> Callable[[type[Capture]], type[Capture]]:
    """Returns a class decorator that makes a :class:`Capture` the one serving ``needs``.

    Example:
        >>> from lswag_plugin.engine.captures import CAPTURES
        >>> from lswag_plugin.engine.registry import Needs
        >>> CAPTURES[Needs.WEIGHT_GRADS].__name__
        'WeightGradsCapture'
    """

    def decorator(cls: type[Capture]) -> type[Capture]:
        served = Needs.NOTHING
        for need in needs:
            if need in CAPTURES:
                raise ValueError(f"{need!r} is already served by {CAPTURES[need].__name__}")
            CAPTURES[need] = cls
            served = served | need
        cls.needs = served
        for attribute, description in cls.publishes.items():
            PUBLISHED[attribute] = (repr(served), f"{cls.__name__}: {description}")
        return cls

    return decorator


def describe() -> dict[str, dict[str, str]]:
    """Returns, per need, its description and what its capture publishes into the context.

    Example:
        >>> sorted(describe()["WEIGHT_GRADS"]["publishes"])
        ['weight_grads']
    """
    out: dict[str, dict[str, Any]] = {}
    for name, description in Needs.defined().items():
        cls = CAPTURES.get(Needs((name,)))
        out[name] = {
            "description": description,
            "capture": cls.__name__ if cls else "",
            "publishes": dict(cls.publishes) if cls else {},
        }
    return out
