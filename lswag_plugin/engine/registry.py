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

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from lswag_plugin.errors import AlreadyRegistered, UnknownProxy

if TYPE_CHECKING:
    from lswag_plugin.engine.context import PassResults

__all__ = ["Needs", "ProxySpec", "available", "get_proxy", "register_proxy", "resolve_names"]


class Needs:
    """What a proxy needs the engine to capture: a set of named needs, combined with ``|``.

    Each need is served by one *capture* (:mod:`lswag_plugin.engine.captures`), which defines it with
    :meth:`define` in its own file and documents what it publishes into the proxy context; the engine
    plans the passes from the union of the requested proxies' needs. Two needs have no capture:

    - ``NOTHING``: the proxy reads the model only (e.g. #params).
    - ``SPECIAL_PASS``: the proxy runs a pass of its own (special input, second order) on
      ``ctx.fresh_model()``, so the shared passes stay untouched (synflow, zen).

    ``lswag_plugin.engine.captures.describe()`` lists every need with what its capture publishes.

    Example:
        >>> from lswag_plugin.engine.registry import Needs
        >>> both = Needs.WEIGHT_GRADS | Needs.ACTIVATION_PATTERNS
        >>> bool(both & Needs.WEIGHT_GRADS), bool(both & Needs.FLOPS), Needs.NOTHING | Needs.NOTHING
        (True, False, Needs.NOTHING)
    """

    __slots__ = ("names",)
    #: Every defined need by name (in definition order), with its one-line description.
    _DEFINED: ClassVar[dict[str, str]] = {}
    NOTHING: ClassVar[Needs]
    SPECIAL_PASS: ClassVar[Needs]

    def __init__(self, names: Iterable[str] = ()) -> None:
        names = frozenset(names)
        unknown = sorted(names - set(self._DEFINED))
        if unknown:
            raise ValueError(
                f"unknown need(s) {', '.join(unknown)}; defined: {', '.join(self._DEFINED)}"
            )
        object.__setattr__(self, "names", names)

    @classmethod
    def define(cls, name: str, description: str) -> Needs:
        """Returns a new need called ``name`` (an upper-case identifier), also set as ``Needs.<name>``.

        Raises:
            ValueError: ``name`` is already defined or not an upper-case identifier.
        """
        if not (name.isidentifier() and name.isupper()):
            raise ValueError(f"a need's name is an upper-case identifier, got {name!r}")
        if name in cls._DEFINED:
            raise ValueError(f"need {name!r} is already defined")
        cls._DEFINED[name] = description
        need = cls((name,))
        setattr(cls, name, need)
        return need

    @classmethod
    def defined(cls) -> dict[str, str]:
        """Returns every defined need's name and description, in definition order."""
        return dict(cls._DEFINED)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("Needs is immutable")

    def __or__(self, other: Needs) -> Needs:
        return Needs(self.names | other.names)

    def __and__(self, other: Needs) -> Needs:
        return Needs(self.names & other.names)

    def __sub__(self, other: Needs) -> Needs:
        return Needs(self.names - other.names)

    def __bool__(self) -> bool:
        return bool(self.names)

    def __iter__(self) -> Iterator[Needs]:
        return (Needs((n,)) for n in self._DEFINED if n in self.names)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Needs) and self.names == other.names

    def __hash__(self) -> int:
        return hash(self.names)

    def __reduce__(self) -> tuple[Any, ...]:
        return (Needs, (tuple(self.names),))

    def __repr__(self) -> str:
        ordered = [n for n in self._DEFINED if n in self.names]
        return "Needs." + "|".join(ordered) if ordered else "Needs.NOTHING"


Needs._DEFINED["SPECIAL_PASS"] = (
    "the proxy runs a pass of its own on ctx.fresh_model() (special input, second order)"
)
Needs.NOTHING = Needs()
Needs.SPECIAL_PASS = Needs(("SPECIAL_PASS",))


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
    override: bool = False,
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
        override: Replace a proxy already registered under ``name`` (or one of the aliases).

    Raises:
        AlreadyRegistered: ``name`` or an alias is taken and ``override`` is False.
        ValueError: An argument is out of range.

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

    if not isinstance(needs, Needs):
        raise TypeError(f"needs must be a Needs value (e.g. Needs.WEIGHT_GRADS), got {needs!r}")

    def decorator(fn: Callable[[PassResults], float]) -> Callable[[PassResults], float]:
        taken = [n for n in (name, *aliases) if n in _REGISTRY or n in _ALIASES]
        if taken and not override:
            raise AlreadyRegistered("proxy", taken[0])
        if override and name in _REGISTRY:
            for alias in _REGISTRY[name].aliases:
                _ALIASES.pop(alias, None)
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
