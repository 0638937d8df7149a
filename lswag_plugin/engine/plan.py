"""Plans the fewest passes that serve every requested proxy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lswag_plugin.engine.captures import CAPTURES, Capture
from lswag_plugin.engine.registry import Needs, ProxySpec, get_proxy, resolve_names

__all__ = ["Plan", "make_plan"]


@dataclass(frozen=True)
class Plan:
    """Which passes run, and with which captures.

    All proxies that read activations or first-order gradients share one set of K minibatch passes
    (forward, and backward when a capture needs the loss's gradient); captures with a pass of their
    own (GraSP's Hessian-vector product) run it after them, and proxies with ``Needs.SPECIAL_PASS`` run
    theirs last, each on a fresh private copy.

    Attributes:
        specs: The requested proxies, in order.
        needs: Every need of the planned proxies, with what their captures require.
        minibatches: K (raised to any planned proxy's minimum).
        required: Proxies computed only because a requested (combined) proxy reads them.
        captures: The capture of each planned need, once each, in the order they run.
    """

    specs: tuple[ProxySpec, ...]
    needs: Needs
    minibatches: int
    required: tuple[ProxySpec, ...] = ()
    captures: tuple[type[Capture], ...] = ()

    @property
    def all_specs(self) -> tuple[ProxySpec, ...]:
        """The required proxies, then the requested ones."""
        return (*self.required, *self.specs)

    @property
    def forward(self) -> bool:
        """Whether the shared minibatch passes run."""
        return any(c.shared for c in self.captures)

    @property
    def backward(self) -> bool:
        """Whether those passes include the loss's backward."""
        return any(c.shared and c.backward for c in self.captures)

    def describe(self) -> list[str]:
        """Returns the passes in order, e.g. ``["forward+backward x2", "special:synflow"]``."""
        passes = []
        if self.forward:
            kind = "forward+backward" if self.backward else "forward"
            passes.append(f"{kind} x{self.minibatches}")
        for capture in self.captures:
            passes += capture.passes(self.minibatches)
        passes += [f"special:{s.name}" for s in self.all_specs if s.needs & Needs.SPECIAL_PASS]
        return passes


def _captures_of(needs: Needs) -> tuple[Needs, tuple[type[Capture], ...]]:
    """Returns ``needs`` closed under what their captures require, and those captures in run order."""
    while True:
        grown = needs
        for need in needs:
            capture = CAPTURES.get(need)
            if capture is not None:
                grown = grown | capture.requires
        if grown == needs:
            break
        needs = grown
    pending = list(dict.fromkeys(c for n, c in CAPTURES.items() if n & needs))
    ordered: list[type[Capture]] = []
    while pending:  # table order, but a capture after the captures of the needs it requires
        ready = next(
            c for c in pending if all(CAPTURES[r] in ordered for r in c.requires if r in CAPTURES)
        )
        ordered.append(ready)
        pending.remove(ready)
    return needs, tuple(ordered)


def make_plan(
    proxies: str | Iterable[str],
    *,
    minibatches: int = 2,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> Plan:
    """Returns the plan for ``proxies`` with the batch split into ``minibatches`` (raised to any proxy's minimum).

    Proxies that declare ``requires`` (combined proxies) pull the proxies they read into the plan.

    Raises:
        UnknownProxy: A name is not registered.

    Example:
        >>> make_plan("lswag,synflow").describe()
        ['forward+backward x2', 'special:synflow']
    """
    specs = tuple(get_proxy(n) for n in resolve_names(proxies))
    names = {s.name for s in specs}
    required: list[ProxySpec] = []
    for s in specs:
        if s.requires is not None:
            for n in s.requires(dict((options or {}).get(s.name, {}))):
                dep = get_proxy(n)
                if dep.name not in names:
                    names.add(dep.name)
                    required.append(dep)
    needs = Needs.NOTHING
    for s in (*required, *specs):
        needs |= s.needs
    if minibatches < 1:
        raise ValueError(f"minibatches must be >= 1, got {minibatches}")
    k = max([minibatches, *(s.min_minibatches for s in (*required, *specs))])
    needs, captures = _captures_of(needs)
    # Required proxies run first so a combined proxy can read their values from ctx.values.
    return Plan(
        specs=specs, needs=needs, minibatches=k, required=tuple(required), captures=captures
    )
