"""The search-space interface and its registry (one decorator, one module per family)."""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from typing import Any

import numpy as np
from torch import nn

from lswag_plugin.errors import BadArchitecture, UnknownSpace

__all__ = ["SearchSpace", "available_spaces", "get_space", "register_space"]


class SearchSpace(abc.ABC):
    """A family of architectures a strategy can sample, mutate, cross over and build.

    Architectures are plain JSON-serialisable values (a string for NAS-Bench-201, a dict for AutoFormer);
    :meth:`encode` gives the canonical string used as a cache key and :meth:`decode` parses it back.
    """

    #: Registry name, e.g. ``"nb201"``.
    name: str = ""
    #: Input resolution the space is defined at.
    default_resolution: int = 32

    @abc.abstractmethod
    def sample(self, rng: np.random.Generator) -> Any:
        """Returns a random architecture."""

    @abc.abstractmethod
    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        """Returns the untrained network of ``arch`` (freshly initialised from the global torch RNG)."""

    @abc.abstractmethod
    def mutate(self, arch: Any, rng: np.random.Generator, *, prob: float = 0.2) -> Any:
        """Returns a copy of ``arch`` with each choice re-drawn with probability ``prob``."""

    @abc.abstractmethod
    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> Any:
        """Returns a child taking each choice from ``a`` or ``b`` at random."""

    def build_seeded(
        self, arch: Any, *, seed: int, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        """Returns :meth:`build` of ``arch`` initialised from ``seed``, leaving the global torch RNG as it was."""
        from lswag_plugin.engine.rng import seeded

        with seeded(seed):
            return self.build(arch, num_classes=num_classes, resolution=resolution)

    def validate(self, arch: Any) -> Any:
        """Returns ``arch`` in canonical form, or raises :class:`BadArchitecture` naming the problem."""
        return arch

    def encode(self, arch: Any) -> str:
        """Returns the canonical string of ``arch`` (stable across runs: a cache key)."""
        arch = self.validate(arch)
        return (
            arch
            if isinstance(arch, str)
            else json.dumps(arch, sort_keys=True, separators=(",", ":"))
        )

    def decode(self, text: str) -> Any:
        """Returns the architecture encoded by :meth:`encode`."""
        try:
            value = json.loads(text) if text.lstrip().startswith(("{", "[")) else text
        except json.JSONDecodeError as exc:
            raise BadArchitecture(
                f"{self.name}: cannot parse architecture JSON {text!r}: {exc}"
            ) from exc
        return self.validate(value)

    def num_params(self, arch: Any, *, num_classes: int = 10) -> int:
        """Returns the parameter count of ``arch`` (built on the meta device: no memory, no init)."""
        import torch

        with torch.device("meta"):
            model = self.build(arch, num_classes=num_classes)
        return sum(p.numel() for p in model.parameters())


_SPACES: dict[str, Callable[..., SearchSpace]] = {}


def register_space(
    *names: str,
) -> Callable[[Callable[..., SearchSpace]], Callable[..., SearchSpace]]:
    """Returns a decorator that registers a space factory (a class or function) under ``names``."""

    def decorator(factory: Callable[..., SearchSpace]) -> Callable[..., SearchSpace]:
        for n in names:
            _SPACES[n] = factory
        return factory

    return decorator


def get_space(name: str, **kwargs: Any) -> SearchSpace:
    """Returns a new instance of the space called ``name``.

    Raises:
        UnknownSpace: Unknown space; the message lists the known ones.
    """
    import lswag_plugin.spaces  # noqa: F401  (registers the built-in spaces)

    if name not in _SPACES:
        raise UnknownSpace("search space", name, _SPACES)
    return _SPACES[name](**kwargs)


def available_spaces() -> list[str]:
    """Returns the registered space names."""
    import lswag_plugin.spaces  # noqa: F401

    return sorted(_SPACES)
