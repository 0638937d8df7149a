"""Plans the fewest passes that serve every requested proxy."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from lswag_plugin.engine.registry import Needs, ProxySpec, get_proxy, resolve_names

__all__ = ["Plan", "make_plan"]


@dataclass(frozen=True)
class Plan:
    """Which shared passes run, and with which captures.

    All proxies that read activations or first-order gradients share one set of K minibatch passes
    (forward, and backward when any proxy needs gradients); proxies with ``Needs.SPECIAL_PASS`` run their
    own pass afterwards on a fresh private copy.
    """

    specs: tuple[ProxySpec, ...]
    needs: Needs
    minibatches: int
    #: Proxies computed only because a requested (combined) proxy reads them.
    required: tuple[ProxySpec, ...] = ()

    @property
    def forward(self) -> bool:
        """Whether the shared minibatch passes run."""
        return self.needs.needs_forward

    @property
    def backward(self) -> bool:
        """Whether those passes include a backward pass."""
        return self.needs.needs_backward

    @property
    def activation_patterns(self) -> bool:
        return bool(
            self.needs & (Needs.ACTIVATION_PATTERNS | Needs.ACTIVATIONS | Needs.ACTIVATION_GRADS)
        )

    @property
    def activations(self) -> bool:
        return bool(self.needs & Needs.ACTIVATIONS)

    @property
    def activation_grads(self) -> bool:
        return bool(self.needs & Needs.ACTIVATION_GRADS)

    @property
    def weight_grads(self) -> bool:
        return bool(self.needs & (Needs.WEIGHT_GRADS | Needs.HESSIAN_GRAD_PRODUCT))

    @property
    def hessian_grad_product(self) -> bool:
        return bool(self.needs & Needs.HESSIAN_GRAD_PRODUCT)

    @property
    def layer_output_grads(self) -> bool:
        return bool(self.needs & Needs.LAYER_OUTPUT_GRADS)

    @property
    def input_grads(self) -> bool:
        return bool(self.needs & Needs.INPUT_GRADS)

    @property
    def stage_features(self) -> bool:
        return bool(self.needs & Needs.STAGE_FEATURES)

    @property
    def flops(self) -> bool:
        return bool(self.needs & Needs.FLOPS)

    @property
    def pattern_proxies(self) -> list[str]:
        return [s.name for s in self.specs if s.needs & Needs.ACTIVATION_PATTERNS]

    @property
    def grad_proxies(self) -> list[str]:
        return [s.name for s in self.specs if s.needs & Needs.WEIGHT_GRADS]

    def describe(self) -> list[str]:
        """Returns the passes in order, e.g. ``["forward+backward x2", "special:synflow"]``."""
        passes = []
        if self.forward:
            kind = "forward+backward" if self.backward else "forward"
            passes.append(f"{kind} x{self.minibatches}")
            if self.hessian_grad_product:
                passes.append(f"forward+double backward x{self.minibatches}")
        passes += [
            f"special:{s.name}"
            for s in (*self.required, *self.specs)
            if s.needs & Needs.SPECIAL_PASS
        ]
        return passes


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
    # Required proxies run first so a combined proxy can read their values from ctx.components.
    return Plan(specs=specs, needs=needs, minibatches=k, required=tuple(required))
