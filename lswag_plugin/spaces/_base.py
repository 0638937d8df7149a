"""The search-space interface and its registry (one decorator, one module per family).

A space owns everything a host needs to search it: sampling, mutation and crossover (our strategies),
building the network (scoring), its Optuna suggestion (:meth:`SearchSpace.suggest`) and its NNI sample
conversion (:meth:`SearchSpace.from_nni_sample`, :meth:`SearchSpace.nni_model_space`), so a newly
registered space works in search, compare, Optuna and NNI with no other edit. This layer never imports
Optuna or NNI at module level: trials are duck-typed, and a space that builds an NNI model space imports
NNI inside that method.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
from torch import nn

from lswag_plugin.errors import AlreadyRegistered, BadArchitecture, UnknownSpace

__all__ = ["SearchSpace", "available_spaces", "get_space", "register_space"]


class SearchSpace(abc.ABC):
    """A family of architectures a strategy can sample, mutate, cross over and build.

    Architectures are plain JSON-serialisable values (a string for NAS-Bench-201, a dict for AutoFormer);
    :meth:`encode` gives the canonical string used as a cache key and :meth:`decode` parses it back.
    :meth:`suggest` (Optuna) and :meth:`from_nni_sample`/:meth:`nni_model_space` (NNI) are optional:
    a space without them raises :class:`~lswag_plugin.errors.BadArchitecture` naming what to write.

    Example:
        >>> from torch import nn
        >>> class Width(SearchSpace):  # a one-choice space: the width of a tiny network
        ...     name = "width-demo"
        ...     def sample(self, rng):
        ...         return int(rng.choice([4, 8, 16]))
        ...     def build(self, arch, *, num_classes=10, resolution=None):
        ...         return nn.Sequential(nn.Conv2d(3, arch, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        ...                              nn.Flatten(), nn.Linear(arch, num_classes))
        ...     def mutate(self, arch, rng, *, prob=0.2):
        ...         return self.sample(rng)
        ...     def crossover(self, a, b, rng):
        ...         return a
        ...     def suggest(self, trial, *, prefix=""):
        ...         return trial.suggest_categorical(f"{prefix}width", [4, 8, 16])
        ...     def from_nni_sample(self, sample):
        ...         return int(sample["width"])
        >>> class Trial:  # what Optuna's trials offer (optuna.trial.FixedTrial({"width": 8}))
        ...     def suggest_categorical(self, name, choices):
        ...         return 8
        >>> space = Width()
        >>> space.suggest(Trial()), space.from_nni_sample({"width": 16})
        (8, 16)
        >>> space.num_params(4)
        162
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

    def suggest(self, trial: Any, *, prefix: str = "") -> Any:
        """Returns an architecture chosen by ``trial.suggest_*`` calls (Optuna).

        Parameter names start with ``prefix`` (to search two spaces in one study). A draw that holds
        no valid architecture raises ``optuna.TrialPruned`` with the reason (imported here lazily).

        Raises:
            BadArchitecture: The space has no Optuna mapping.
        """
        raise BadArchitecture(
            f"search space {self.name or type(self).__name__!r} has no Optuna mapping; implement "
            "its suggest(trial, prefix=...) method, or write build_model(trial) with "
            "trial.suggest_* calls and space.build(arch) yourself"
        )

    def from_nni_sample(self, sample: Mapping[str, Any]) -> Any:
        """Returns the architecture of a sample of the space's NNI model space (``model.sample``).

        Raises:
            BadArchitecture: The space has no NNI mapping, or the sample is not one of its cells.
        """
        raise BadArchitecture(
            f"search space {self.name or type(self).__name__!r} has no NNI mapping; implement its "
            "from_nni_sample(sample) method (and nni_model_space() for NNI's strategies)"
        )

    def to_nni_sample(self, arch: Any) -> dict[str, Any]:
        """Returns the NNI sample of ``arch`` (the inverse of :meth:`from_nni_sample`).

        Raises:
            BadArchitecture: The space has no NNI mapping.
        """
        raise BadArchitecture(
            f"search space {self.name or type(self).__name__!r} has no NNI mapping; implement its "
            "to_nni_sample(arch) method"
        )

    def nni_model_space(self) -> Any:
        """Returns an NNI 3.0 ``ModelSpace`` whose samples :meth:`from_nni_sample` reads.

        NNI's multi-trial strategies (``RegularizedEvolution``, ...) search it; NNI is imported inside
        this method only.

        Raises:
            BadArchitecture: The space has no NNI model space.
        """
        raise BadArchitecture(
            f"search space {self.name or type(self).__name__!r} has no NNI model space; implement "
            "its nni_model_space() and from_nni_sample(sample) methods"
        )

    def num_params(self, arch: Any, *, num_classes: int = 10) -> int:
        """Returns the parameter count of ``arch`` (built on the meta device: no memory, no init)."""
        import torch

        with torch.device("meta"):
            model = self.build(arch, num_classes=num_classes)
        return sum(p.numel() for p in model.parameters())


_SPACES: dict[str, Callable[..., SearchSpace]] = {}


def register_space(
    *names: str, override: bool = False
) -> Callable[[Callable[..., SearchSpace]], Callable[..., SearchSpace]]:
    """Returns a decorator that registers a space factory (a class or function) under ``names``.

    Raises:
        AlreadyRegistered: A name is taken and ``override`` is False.
    """
    for n in names:
        if n in _SPACES and not override:
            raise AlreadyRegistered("search space", n)

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
