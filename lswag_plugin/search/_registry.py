"""The strategy registry: one decorator, each strategy registered where it is defined.

Search, compare and the command line look strategies up here. A spec says how to build the strategy
(a class or a factory of keyword arguments), which host runs it (``"ours"``, ``"optuna"``, ``"nni"``),
whether it needs a zero-cost proxy besides the counted evaluations (a *hybrid*: ``search(space, train,
screen, trainings=, seed=)``; the others are :class:`~lswag_plugin.search.SearchStrategy`:
``search(space, evaluate, budget=, seed=)``) and its default options.

Our strategies register when :mod:`lswag_plugin.search` is imported; the Optuna and NNI strategies and
their hybrids register when :mod:`lswag_plugin.compare` is imported (they sit above the host adapters).

A new strategy is one decorated class (its ``name`` is what results carry)::

    @register_strategy("first-only")
    class FirstOnly(SearchStrategy):
        name = "first-only"

        def _search(self, run, rng):
            run.run([run.space.sample(rng)])

Example:
    >>> from lswag_plugin.search import get_strategy, strategy_spec
    >>> spec = strategy_spec("screen-evolution")
    >>> spec.kind, spec.host, spec.needs_proxy, dict(spec.defaults)
    ('hybrid', 'ours', True, {'pool': 1000})
    >>> get_strategy("screen-evolution", pool=50).pool
    50
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from lswag_plugin.errors import AlreadyRegistered, UnknownStrategy

__all__ = [
    "HOSTS",
    "StrategySpec",
    "available_strategies",
    "get_strategy",
    "register_strategy",
    "strategy_spec",
]

#: The hosts that run strategies, in the order listings use.
HOSTS = ("ours", "optuna", "nni")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class StrategySpec:
    """A registered strategy.

    Attributes:
        name: The registered name (``"evolution"``, ``"optuna-tpe"``, ``"zc-local"``).
        factory: Builds the strategy from keyword options (a class or a function).
        host: ``"ours"``, ``"optuna"`` or ``"nni"``: the library that proposes the architectures.
        needs_proxy: Whether it screens with a zero-cost proxy besides the counted evaluations (a
            hybrid, run under a budget of trainings).
        defaults: Options used unless the caller gives them.
    """

    name: str
    factory: Callable[..., Any]
    host: str = "ours"
    needs_proxy: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        """``"hybrid"`` for a strategy that needs a proxy, else its host."""
        return "hybrid" if self.needs_proxy else self.host

    def options(self, **options: Any) -> dict[str, Any]:
        """Returns the defaults overridden by ``options``."""
        return {**self.defaults, **options}

    def build(self, **options: Any) -> Any:
        """Returns a new strategy built with :meth:`options`."""
        return self.factory(**self.options(**options))


_STRATEGIES: dict[str, StrategySpec] = {}


def register_strategy(
    name: str,
    *,
    host: str = "ours",
    needs_proxy: bool = False,
    defaults: Mapping[str, Any] | None = None,
    override: bool = False,
) -> Callable[[F], F]:
    """Returns a decorator that registers a strategy class or factory under ``name``.

    Args:
        name: The strategy's name (on the command line and in results).
        host: ``"ours"``, ``"optuna"`` or ``"nni"``.
        needs_proxy: True for a hybrid (``search(space, train, screen, trainings=, seed=)``).
        defaults: Options the factory gets unless the caller gives them.
        override: Replace a strategy already registered under ``name``.

    Raises:
        AlreadyRegistered: ``name`` is taken and ``override`` is False.
        ValueError: ``host`` is not one of :data:`HOSTS`.
    """
    if host not in HOSTS:
        raise ValueError(f"host must be one of {', '.join(HOSTS)}, got {host!r}")
    if name in _STRATEGIES and not override:
        raise AlreadyRegistered("search strategy", name)

    def decorator(factory: F) -> F:
        spec = StrategySpec(
            name,
            factory,
            host=host,
            needs_proxy=needs_proxy,
            defaults=MappingProxyType(dict(defaults or {})),
        )
        _STRATEGIES.pop(name, None)  # an override goes to the end of the listing
        _STRATEGIES[name] = spec
        return factory

    return decorator


def _ensure_builtins() -> None:
    import lswag_plugin.search  # noqa: F401  (registers our strategies)


def strategy_spec(name: str) -> StrategySpec:
    """Returns the spec of the strategy called ``name``.

    Raises:
        UnknownStrategy: Unknown name; the message lists the registered ones.
    """
    _ensure_builtins()
    if name not in _STRATEGIES:
        hint = (
            ""
            if "lswag_plugin.compare" in sys.modules
            else "the Optuna, NNI and hybrid strategies register when lswag_plugin.compare is imported"
        )
        raise UnknownStrategy("strategy", name, _STRATEGIES, hint=hint)
    return _STRATEGIES[name]


def get_strategy(name: str, **options: Any) -> Any:
    """Returns a new strategy called ``name``, built with its defaults overridden by ``options``.

    Raises:
        UnknownStrategy: Unknown name; the message lists the registered ones.
    """
    return strategy_spec(name).build(**options)


def available_strategies(*, host: str | None = None, needs_proxy: bool | None = None) -> list[str]:
    """Returns the registered names: training-only ones first, each group by host, then registration order.

    Args:
        host: Only strategies of this host.
        needs_proxy: Only hybrids (True) or only training-only strategies (False).
    """
    _ensure_builtins()
    specs = [
        s
        for s in _STRATEGIES.values()
        if (host is None or s.host == host)
        and (needs_proxy is None or s.needs_proxy == needs_proxy)
    ]
    order = {name: i for i, name in enumerate(_STRATEGIES)}
    specs.sort(key=lambda s: (s.needs_proxy, HOSTS.index(s.host), order[s.name]))
    return [s.name for s in specs]
