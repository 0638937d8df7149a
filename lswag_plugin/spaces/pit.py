"""PiT (Heo et al., ICCV 2021): the pooling-based Vision Transformer search space of Auto-Prox.

The network is timm's :class:`timm.models.pit.PoolingVisionTransformer` (built by that class, not a
copy): an overlapping conv patch embedding (patch 16, stride 8 as timm's ``pit_*_224``), three
transformer stages whose width is ``base_dim × heads`` of the stage, a depthwise-conv pooling (stride 2)
between stages, a class token, and a linear head. An architecture is a JSON-able dict::

    {"base_dim": 32, "mlp_ratio": 4, "depth": [2, 6, 4], "num_heads": [2, 4, 8]}

The search space is Auto-Prox's (Wei et al., AAAI 2024; ``configs/auto/search/pit-all.yaml`` of
lliai/Auto-Prox-AAAI24, Apache-2.0): ``base_dim`` ∈ {16, 24, 32, 40} and ``mlp_ratio`` ∈ {2, 4, 6, 8} per
network, depths per stage from {1, 2, 3} × {4, 6, 8} × {2, 4, 6}, heads per stage from {2, 4, 8},
non-decreasing across stages (10 head triples): 4 · 4 · 27 · 10 = 4,320 architectures.

timm's ``pit_ti_224`` is in the space; ``pit_xs_224`` (``base_dim`` 48) and ``pit_s_224`` (``base_dim`` 48,
heads 3, 6, 12) are not: :data:`REFERENCE_ARCHS` holds all three, :meth:`PiT.build` builds any
well-formed architecture (only :meth:`PiT.validate` checks the choices).

Attention follows the rule of :mod:`lswag_plugin.spaces.autoformer`: timm's explicit attention path by
default (``fused_attention=False``: attention maps exist and double backward works on CPU).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace, register_space

__all__ = ["CHOICES", "REFERENCE_ARCHS", "PiT", "PiTChoices", "build_pit"]

_FIELDS = ("base_dim", "mlp_ratio", "depth", "num_heads")
STAGES = 3


@dataclass(frozen=True)
class PiTChoices:
    """The choices of the PiT space (one tuple per stage for depth and heads)."""

    base_dim: tuple[int, ...] = (16, 24, 32, 40)
    mlp_ratio: tuple[int, ...] = (2, 4, 6, 8)
    depth: tuple[tuple[int, ...], ...] = ((1, 2, 3), (4, 6, 8), (2, 4, 6))
    num_heads: tuple[int, ...] = (2, 4, 8)

    def head_triples(self) -> list[tuple[int, ...]]:
        """Returns the allowed head triples (non-decreasing across stages)."""
        return list(itertools.combinations_with_replacement(sorted(self.num_heads), STAGES))


#: Auto-Prox's PiT space.
CHOICES = PiTChoices()

#: timm's PiT presets (``timm.models.pit``), patch 16 and stride 8 at 224²; only ``pit_ti`` is in the space.
REFERENCE_ARCHS: dict[str, dict[str, Any]] = {
    "pit_ti": {"base_dim": 32, "mlp_ratio": 4, "depth": [2, 6, 4], "num_heads": [2, 4, 8]},
    "pit_xs": {"base_dim": 48, "mlp_ratio": 4, "depth": [2, 6, 4], "num_heads": [2, 4, 8]},
    "pit_s": {"base_dim": 48, "mlp_ratio": 4, "depth": [2, 6, 4], "num_heads": [3, 6, 12]},
}


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer | float):
        raise BadArchitecture(f"pit: {name} must be a positive integer, got {value!r}")
    if int(value) != value or value < 1:
        raise BadArchitecture(f"pit: {name} must be a positive integer, got {value!r}")
    return int(value)


def _canonical(arch: Any, choices: PiTChoices | None) -> dict[str, Any]:
    """Returns ``arch`` as a canonical dict; checks structure, and the choices when given."""
    if isinstance(arch, str):
        try:
            arch = json.loads(arch)
        except json.JSONDecodeError as exc:
            raise BadArchitecture(f"pit: cannot parse architecture JSON {arch!r}: {exc}") from exc
    if not isinstance(arch, Mapping):
        raise BadArchitecture(
            f"pit: an architecture is a dict with keys {', '.join(_FIELDS)}, got {arch!r}"
        )
    unknown = [k for k in arch if k not in _FIELDS]
    missing = [k for k in _FIELDS if k not in arch]
    if unknown or missing:
        raise BadArchitecture(
            f"pit: an architecture has exactly the keys {', '.join(_FIELDS)}; "
            f"unknown: {unknown}, missing: {missing}"
        )
    base_dim = _positive_int("base_dim", arch["base_dim"])
    ratio = arch["mlp_ratio"]
    if (
        isinstance(ratio, bool)
        or not isinstance(ratio, int | float | np.integer | np.floating)
        or ratio <= 0
    ):
        raise BadArchitecture(f"pit: mlp_ratio must be a positive number, got {ratio!r}")
    mlp_ratio: int | float = int(ratio) if float(ratio).is_integer() else float(ratio)
    lists: dict[str, list[int]] = {}
    for name in ("depth", "num_heads"):
        value = arch[name]
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
            raise BadArchitecture(f"pit: {name} must be a list of {STAGES} integers, got {value!r}")
        if len(value) != STAGES:
            raise BadArchitecture(
                f"pit: {name} has {len(value)} value(s); PiT has {STAGES} stages, give one per stage"
            )
        lists[name] = [_positive_int(f"{name}[{i}]", v) for i, v in enumerate(value)]
    if choices is not None:
        checks: list[tuple[str, Any, Sequence[Any]]] = [
            ("base_dim", base_dim, choices.base_dim),
            ("mlp_ratio", mlp_ratio, choices.mlp_ratio),
        ]
        checks += [(f"depth[{i}]", d, choices.depth[i]) for i, d in enumerate(lists["depth"])]
        checks += [
            (f"num_heads[{i}]", h, choices.num_heads) for i, h in enumerate(lists["num_heads"])
        ]
        for where, value, allowed in checks:
            if value not in allowed:
                raise BadArchitecture(
                    f"pit: {where} = {value!r} is not a choice of this space; "
                    f"choices: {', '.join(map(str, allowed))}"
                )
        heads = lists["num_heads"]
        if any(b < a for a, b in itertools.pairwise(heads)):
            raise BadArchitecture(
                f"pit: num_heads {heads} decreases across stages; heads must be non-decreasing"
            )
    return {"base_dim": base_dim, "mlp_ratio": mlp_ratio, **lists}


def build_pit(
    arch: Any,
    *,
    num_classes: int = 1000,
    resolution: int = 224,
    patch_size: int = 16,
    stride: int = 8,
    fused_attention: bool = False,
) -> nn.Module:
    """Returns timm's ``PoolingVisionTransformer`` of ``arch`` (any well-formed arch, choices unchecked).

    Example:
        >>> model = build_pit(REFERENCE_ARCHS["pit_ti"], num_classes=10, resolution=32)
        >>> type(model).__name__, model.transformers[2].blocks[0].attn.num_heads
        ('PoolingVisionTransformer', 8)
    """
    from timm.layers import Attention
    from timm.models.pit import PoolingVisionTransformer

    spec = _canonical(arch, None)
    if resolution < patch_size:
        raise BadArchitecture(
            f"pit: resolution must be at least the patch size {patch_size}, got {resolution}"
        )
    model = PoolingVisionTransformer(
        img_size=resolution,
        patch_size=patch_size,
        stride=stride,
        base_dims=[spec["base_dim"]] * STAGES,
        depth=spec["depth"],
        heads=spec["num_heads"],
        mlp_ratio=spec["mlp_ratio"],
        num_classes=num_classes,
    )
    for module in model.modules():
        if isinstance(module, Attention):
            module.fused_attn = fused_attention
    return model


@register_space("pit")
class PiT(SearchSpace):
    """Auto-Prox's PiT space on timm's ``PoolingVisionTransformer`` (registered as ``pit``).

    Mutation re-draws each choice (base_dim, mlp_ratio, each stage's depth and heads) with probability
    ``prob`` and sorts the heads (they stay non-decreasing); crossover takes each choice from either
    parent, heads sorted likewise.

    Args:
        resolution: Input resolution of the built networks (224 in timm's presets; ≥ ``patch_size``).
        patch_size: Patch embedding kernel (16 as timm's ``pit_ti/xs/s_224``; 14 for ``pit_b_224``).
        stride: Patch embedding stride (8; 7 for ``pit_b_224``).
        fused_attention: Use PyTorch's fused attention (faster; no attention maps, no double backward
            on CPU).

    Example:
        >>> import numpy as np
        >>> from lswag_plugin.spaces import get_space
        >>> space = get_space("pit", resolution=32)
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.decode(space.encode(arch)) == arch
        True
        >>> space.num_params(REFERENCE_ARCHS["pit_ti"], num_classes=1000, resolution=224)
        4847272
    """

    name = "pit"
    default_resolution = 224

    def __init__(
        self,
        *,
        resolution: int = 224,
        patch_size: int = 16,
        stride: int = 8,
        fused_attention: bool = False,
    ) -> None:
        for key, value in (
            ("patch_size", patch_size),
            ("stride", stride),
            ("resolution", resolution),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        if resolution < patch_size:
            raise BadArchitecture(
                f"pit: resolution must be at least the patch size {patch_size}, got {resolution}"
            )
        self.default_resolution = resolution
        self.patch_size = patch_size
        self.stride = stride
        self.fused_attention = bool(fused_attention)
        self.choices = CHOICES

    def validate(self, arch: Any) -> dict[str, Any]:
        """Returns ``arch`` (a dict or its JSON) in canonical form; raises for anything outside the space."""
        return _canonical(arch, self.choices)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        c = self.choices
        triples = c.head_triples()
        return {
            "base_dim": int(rng.choice(c.base_dim)),
            "mlp_ratio": int(rng.choice(c.mlp_ratio)),
            "depth": [int(rng.choice(d)) for d in c.depth],
            "num_heads": list(triples[int(rng.integers(len(triples)))]),
        }

    def mutate(self, arch: Any, rng: np.random.Generator, *, prob: float = 0.2) -> dict[str, Any]:
        """Returns a different arch of the space with each choice re-drawn with probability ``prob``."""
        if not 0.0 < prob <= 1.0:
            raise ValueError(f"prob must be in (0, 1], got {prob}")
        parent = self.validate(arch)
        c = self.choices
        while True:
            child = copy.deepcopy(parent)
            if rng.random() < prob:
                child["base_dim"] = int(rng.choice(c.base_dim))
            if rng.random() < prob:
                child["mlp_ratio"] = int(rng.choice(c.mlp_ratio))
            for i in range(STAGES):
                if rng.random() < prob:
                    child["depth"][i] = int(rng.choice(c.depth[i]))
                if rng.random() < prob:
                    child["num_heads"][i] = int(rng.choice(c.num_heads))
            child["num_heads"].sort()
            if child != parent:
                return child

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> dict[str, Any]:
        pa, pb = self.validate(a), self.validate(b)

        def pick(x: Any, y: Any) -> Any:
            return x if rng.random() < 0.5 else y

        return {
            "base_dim": pick(pa["base_dim"], pb["base_dim"]),
            "mlp_ratio": pick(pa["mlp_ratio"], pb["mlp_ratio"]),
            "depth": [pick(x, y) for x, y in zip(pa["depth"], pb["depth"])],
            "num_heads": sorted(pick(x, y) for x, y in zip(pa["num_heads"], pb["num_heads"])),
        }

    def suggest(self, trial: Any, *, prefix: str = "") -> dict[str, Any]:
        """Returns the arch chosen by an Optuna trial.

        The parameters are ``base_dim``, ``mlp_ratio``, ``depth_0`` … ``depth_2`` (each stage's
        choices) and ``num_heads``, one of the space's non-decreasing head triples written ``"2-4-8"``.
        """
        c = self.choices
        triples = {"-".join(map(str, t)): list(t) for t in c.head_triples()}
        arch = {
            "base_dim": trial.suggest_categorical(f"{prefix}base_dim", list(c.base_dim)),
            "mlp_ratio": trial.suggest_categorical(f"{prefix}mlp_ratio", list(c.mlp_ratio)),
            "depth": [
                trial.suggest_categorical(f"{prefix}depth_{s}", list(d))
                for s, d in enumerate(c.depth)
            ],
            "num_heads": triples[trial.suggest_categorical(f"{prefix}num_heads", list(triples))],
        }
        return self.validate(arch)

    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        """Returns the PiT of ``arch``; well-formed architectures outside the choices build too."""
        return build_pit(
            arch,
            num_classes=num_classes,
            resolution=self.default_resolution if resolution is None else resolution,
            patch_size=self.patch_size,
            stride=self.stride,
            fused_attention=self.fused_attention,
        )

    def num_params(self, arch: Any, *, num_classes: int = 10, resolution: int | None = None) -> int:
        """Returns the parameter count of ``arch`` at ``resolution`` (built on the meta device)."""
        import torch

        with torch.device("meta"):
            model = self.build(arch, num_classes=num_classes, resolution=resolution)
        return sum(p.numel() for p in model.parameters())
