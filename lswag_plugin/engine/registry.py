"""The one registry of zero-cost proxies.

This is the contract proxies implement; it lives in the engine, which plans passes from it, and proxy
modules import it (never the reverse). A proxy is a function ``fn(ctx) -> float`` that reads what the
engine captured during its shared passes (:class:`~lswag_plugin.engine.context.PassResults`) and returns
one number. It is registered with
:func:`register_proxy`, which records its name, its direction (``"max"``: higher is better, ``"min"``:
lower is better) and what it needs from the engine (:class:`Needs`). The engine unions the needs of all
requested proxies and plans the fewest passes that serve them.

The built-in proxies register when :mod:`lswag_plugin` is imported (its ``__init__`` imports the
``proxies`` package and ``libra``), as timm's models register on ``import timm``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lswag_plugin.errors import UnknownProxy

if TYPE_CHECKING:
    from lswag_plugin.engine.context import PassResults

__all__ = ["Needs", "ProxySpec", "available", "get_proxy", "register_proxy", "resolve_names"]


class Needs(enum.Flag):
    """What a proxy needs the engine to capture.

    - ``NOTHING``: reads the model only (e.g. #params).
    - ``ACTIVATION_PATTERNS``: binarised post-activation patterns of every activation module call,
      packed per neuron over the batch's samples (SWAP's Ψ, NWOT's kernel).
    - ``ACTIVATIONS``: raw outputs of activation modules (feature statistics, e.g. MeCo).
    - ``WEIGHT_GRADS``: gradient of the loss w.r.t. every Conv/Linear weight, per minibatch.
    - ``ACTIVATION_GRADS``: gradient of the loss w.r.t. activation outputs, ``(grad, output)`` pairs.
    - ``HESSIAN_GRAD_PRODUCT``: H g per Conv/Linear weight (H = ∂²L/∂θ², g the batch gradient), by a
      pass of its own after the shared ones: each minibatch again, ``create_graph``, one more backward
      (grasp). The shared passes are not slowed by it.
    - ``LAYER_OUTPUT_GRADS``: per Conv/Linear layer and output channel, Σ over samples of
      (Σ over positions of output × ∂L/∂output)², streamed during the shared backward (fisher).
    - ``INPUT_GRADS``: gradient of the summed output w.r.t. the input, per sample (jacov, epe_nas).
    - ``FLOPS``: a FLOP count of one forward (counted during the shared forward).
    - ``SPECIAL_PASS``: the proxy runs a pass of its own (special input, second order); it is called with
      the context and must use ``ctx.fresh_model()`` so the shared passes stay untouched.
    - ``STAGE_FEATURES``: per stage of the network (stem, then each change of resolution or block group,
      :mod:`lswag_plugin.engine.stages`), the covariance of its features over the batch and the norm of
      the loss gradient there, gathered in the shared passes (AZ-NAS): ``ctx.stages``.
    """

    NOTHING = 0
    ACTIVATION_PATTERNS = enum.auto()
    ACTIVATIONS = enum.auto()
    WEIGHT_GRADS = enum.auto()
    ACTIVATION_GRADS = enum.auto()
    INPUT_GRADS = enum.auto()
    FLOPS = enum.auto()
    SPECIAL_PASS = enum.auto()
    LAYER_OUTPUT_GRADS = enum.auto()
    HESSIAN_GRAD_PRODUCT = enum.auto()
    STAGE_FEATURES = enum.auto()

    @property
    def needs_backward(self) -> bool:
        """Whether a backward pass through the loss is needed."""
        return bool(
            self
            & (
                Needs.WEIGHT_GRADS
                | Needs.ACTIVATION_GRADS
                | Needs.INPUT_GRADS
                | Needs.LAYER_OUTPUT_GRADS
                | Needs.HESSIAN_GRAD_PRODUCT
                | Needs.STAGE_FEATURES
            )
        )

    @property
    def needs_forward(self) -> bool:
        """Whether the shared forward pass is needed at all."""
        return bool(self & ~(Needs.SPECIAL_PASS)) and self != Needs.NOTHING


@dataclass(frozen=True)
class ProxySpec:
    """A registered proxy: its function and what it declares."""

    name: str
    fn: Callable[[PassResults], float]
    direction: str
    needs: Needs
    min_minibatches: int = 1
    description: str = ""
    aliases: tuple[str, ...] = field(default_factory=tuple)
    requires: Callable[[dict[str, Any]], list[str]] | None = None
    #: Version of the proxy's definition: part of every cache key of its scores (bump it when the
    #: definition changes, so cached scores of the old definition are not served).
    version: str = "1"
    #: For a proxy whose score depends on more than its options (a fitted model's content): a function
    #: of its options returning a string that changes when that does; part of every cache key.
    fingerprint: Callable[[dict[str, Any]], str] | None = None

    @property
    def higher_is_better(self) -> bool:
        """True when a higher score means a better architecture."""
        return self.direction == "max"

    def __call__(self, ctx: PassResults) -> float:
        return self.fn(ctx)


_REGISTRY: dict[str, ProxySpec] = {}
_ALIASES: dict[str, str] = {}


def register_proxy(
    name: str,
    *,
    direction: str = "max",
    needs: Needs = Needs.NOTHING,
    min_minibatches: int = 1,
    aliases: Iterable[str] = (),
    requires: Callable[[dict[str, Any]], list[str]] | None = None,
    version: str = "1",
    fingerprint: Callable[[dict[str, Any]], str] | None = None,
) -> Callable[[Callable[[PassResults], float]], Callable[[PassResults], float]]:
    """Returns a decorator that registers a proxy function under ``name``.

    Args:
        name: The proxy's name, as users type it (``"lswag"``).
        direction: ``"max"`` if higher scores mean better architectures, ``"min"`` otherwise.
        needs: What the engine must capture for it.
        min_minibatches: The fewest minibatches the proxy needs (statistics across minibatches).
        aliases: Other accepted names.
        requires: For a combined proxy (e.g. ``libra``): a function of the proxy's options returning the
            names of other proxies it reads; the engine adds their needs to the plan and computes them
            (they appear in ``Scores.components`` unless requested too). A combined proxy reads
            them from ``ctx.values``; each is computed once per call.
        version: The definition's version, part of every cache key of its scores.
        fingerprint: For a score that depends on more than the options (e.g. the content of a
            fitted model file): ``fingerprint(options) -> str``, part of every cache key.

    Example:
        >>> from lswag_plugin.engine.registry import Needs, register_proxy
        >>> @register_proxy("demo_depth", needs=Needs.NOTHING)
        ... def demo_depth(ctx):
        ...     "Number of modules (a toy proxy)."
        ...     return float(len(list(ctx.model.modules())))
        >>> from lswag_plugin.engine.registry import available
        >>> "demo_depth" in [p.name for p in available()]
        True
    """
    if direction not in ("max", "min"):
        raise ValueError(f"direction must be 'max' or 'min', got {direction!r}")
    if min_minibatches < 1:
        raise ValueError(f"min_minibatches must be >= 1, got {min_minibatches}")

    def decorator(fn: Callable[[PassResults], float]) -> Callable[[PassResults], float]:
        doc = (fn.__doc__ or "").strip().splitlines()
        spec = ProxySpec(
            name=name,
            fn=fn,
            direction=direction,
            needs=needs,
            min_minibatches=min_minibatches,
            description=doc[0] if doc else "",
            aliases=tuple(aliases),
            requires=requires,
            version=str(version),
            fingerprint=fingerprint,
        )
        _REGISTRY[name] = spec
        for alias in spec.aliases:
            _ALIASES[alias] = name
        return fn

    return decorator


def get_proxy(name: str) -> ProxySpec:
    """Returns the registered proxy called ``name`` (or one of its aliases).

    Raises:
        UnknownProxy: ``name`` is not registered; the message lists the known names.
    """
    key = _ALIASES.get(name, name)
    if key not in _REGISTRY:
        raise UnknownProxy("proxy", name, _REGISTRY, "see lswag_plugin.available_proxies()")
    return _REGISTRY[key]


def available() -> list[ProxySpec]:
    """Returns every registered proxy, sorted by name."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]


def resolve_names(proxies: str | Iterable[str]) -> list[str]:
    """Returns canonical proxy names for a name, a comma-separated list, ``"all"`` or an iterable."""
    if isinstance(proxies, str):
        proxies = [p.strip() for p in proxies.split(",") if p.strip()]
    names: list[str] = []
    for p in proxies:
        if p == "all":
            # Proxies that read a fitted file (they declare a fingerprint: libra, az_nas) are left out.
            expanded = [
                s.name for s in available() if not s.name.startswith("_") and s.fingerprint is None
            ]
        else:
            expanded = [get_proxy(p).name]
        for n in expanded:
            if n not in names:
                names.append(n)
    if not names:
        raise UnknownProxy(
            "no proxy requested; pass at least one name (see lswag_plugin.proxies.available())"
        )
    return names
