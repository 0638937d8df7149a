"""AutoFormer (Chen et al., ICCV 2021): the Tiny, Small and Base Vision Transformer search spaces.

An architecture is a JSON-able dict ``{"embed_dim", "depth", "mlp_ratio": [...], "num_heads": [...]}``:
the embedding width and depth are chosen per network, the MLP ratio and head count per layer. The Q-K-V
width of a layer is ``num_heads × 64`` (AutoFormer ties it to the head count, so it differs from the
embedding width). Patch 16, 224 × 224 input by default; resolution and class count are configurable.

The network is a plain pre-norm ViT built from timm's blocks (``PatchEmbed``, ``Attention`` with
``attn_head_dim=64``, ``Mlp`` whose GELU is an ``nn.Module`` the engine's hooks can read), initialised as
AutoFormer does (truncated normal, std .02, for Linear weights, position embedding and class token).
Attention takes timm's explicit path by default (``fused_attention=False``) so that attention maps exist
and double backward works on CPU. AutoFormer's optional 2-D relative position tables (30 × 64 × 4 = 7,680
parameters per layer) are not built; the reference models' counts stay within 0.6 % of the published ones.

The search-space choices and the reference models AutoFormer-T/S/B are those of the AutoFormer
supernet and subnet configurations (microsoft/Cream, ``AutoFormer/experiments``, MIT licence).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace, register_space

__all__ = [
    "CHOICES",
    "HEAD_DIM",
    "PATCH_SIZE",
    "REFERENCE_ARCHS",
    "AutoFormer",
    "AutoFormerBlock",
    "AutoFormerChoices",
    "AutoFormerNet",
]

#: Width of one attention head: a layer's Q-K-V width is ``num_heads * HEAD_DIM``.
HEAD_DIM = 64
PATCH_SIZE = 16
_FIELDS = ("embed_dim", "depth", "mlp_ratio", "num_heads")
_ALIASES = {"hidden_dim": "embed_dim"}


@dataclass(frozen=True)
class AutoFormerChoices:
    """The choices of one AutoFormer space."""

    embed_dim: tuple[int, ...]
    depth: tuple[int, ...]
    mlp_ratio: tuple[float, ...]
    num_heads: tuple[int, ...]


#: The three spaces of the AutoFormer paper (Table 1; supernet configs of microsoft/Cream).
CHOICES: dict[str, AutoFormerChoices] = {
    "t": AutoFormerChoices((192, 216, 240), (12, 13, 14), (3.5, 4.0), (3, 4)),
    "s": AutoFormerChoices((320, 384, 448), (12, 13, 14), (3.0, 3.5, 4.0), (5, 6, 7)),
    "b": AutoFormerChoices((528, 576, 624), (14, 15, 16), (3.0, 3.5, 4.0), (8, 9, 10)),
}

#: The searched models AutoFormer-T/S/B (``experiments/subnet/AutoFormer-{T,S,B}.yaml`` of
#: microsoft/Cream). Published: 5.8 M, 22.9 M, 53.7 M parameters at 224² with 1000 classes. AutoFormer-T
#: uses MLP ratio 3.0 in four layers, outside its own space's choices: it builds, but ``validate`` of the
#: T space rejects it.
REFERENCE_ARCHS: dict[str, dict[str, Any]] = {
    "t": {
        "embed_dim": 192,
        "depth": 13,
        "mlp_ratio": [3.5, 3.5, 3.0, 3.5, 3.0, 3.0, 4.0, 4.0, 3.5, 4.0, 3.5, 4.0, 3.5],
        "num_heads": [3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 4, 3, 3],
    },
    "s": {
        "embed_dim": 384,
        "depth": 13,
        "mlp_ratio": [3.0, 3.5, 3.0, 3.5, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 4.0, 3.5, 4.0],
        "num_heads": [6, 6, 5, 7, 5, 5, 5, 6, 6, 7, 7, 6, 7],
    },
    "b": {
        "embed_dim": 576,
        "depth": 14,
        "mlp_ratio": [3.5, 3.5, 4.0, 3.5, 4.0, 3.5, 3.5, 3.0, 4.0, 4.0, 3.0, 4.0, 3.0, 3.5],
        "num_heads": [9, 9, 9, 9, 9, 10, 9, 9, 10, 9, 10, 9, 9, 10],
    },
}


def _canonical(arch: Any, choices: AutoFormerChoices | None, space: str) -> dict[str, Any]:
    """Returns ``arch`` as a canonical dict; checks structure, and membership when ``choices`` is given."""
    if isinstance(arch, str):
        raise BadArchitecture(
            f"{space}: an architecture is a dict, got the string {arch!r}; use space.decode(text)"
        )
    if not isinstance(arch, Mapping):
        raise BadArchitecture(
            f"{space}: an architecture is a dict with keys {', '.join(_FIELDS)}, got {type(arch).__name__}"
        )
    fields: dict[str, Any] = {}
    for key, value in arch.items():
        name = _ALIASES.get(key, key)
        if name not in _FIELDS:
            raise BadArchitecture(
                f"{space}: unknown field {key!r}; an architecture has {', '.join(_FIELDS)} "
                "(hidden_dim is accepted for embed_dim)"
            )
        if name in fields:
            raise BadArchitecture(f"{space}: embed_dim given twice (as embed_dim and hidden_dim)")
        fields[name] = value
    missing = [f for f in _FIELDS if f not in fields]
    if missing:
        raise BadArchitecture(f"{space}: missing field(s) {', '.join(missing)}")

    def integer(name: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | np.integer | float):
            raise BadArchitecture(f"{space}: {name} must be an integer, got {value!r}")
        if int(value) != value or value < 1:
            raise BadArchitecture(f"{space}: {name} must be a positive integer, got {value!r}")
        return int(value)

    embed_dim = integer("embed_dim", fields["embed_dim"])
    depth = integer("depth", fields["depth"])
    lists: dict[str, list[Any]] = {}
    for name in ("mlp_ratio", "num_heads"):
        value = fields[name]
        if isinstance(value, str | bytes) or not isinstance(value, Sequence | np.ndarray):
            raise BadArchitecture(
                f"{space}: {name} must be a list (one value per layer), got {value!r}"
            )
        if len(value) != depth:
            raise BadArchitecture(
                f"{space}: {name} has {len(value)} value(s) but depth is {depth}: give one per layer"
            )
        lists[name] = list(value)
    num_heads = [integer(f"num_heads[{i}]", h) for i, h in enumerate(lists["num_heads"])]
    mlp_ratio: list[float] = []
    for i, r in enumerate(lists["mlp_ratio"]):
        if (
            isinstance(r, bool)
            or not isinstance(r, int | float | np.integer | np.floating)
            or r <= 0
        ):
            raise BadArchitecture(f"{space}: mlp_ratio[{i}] must be a positive number, got {r!r}")
        mlp_ratio.append(float(r))
    if choices is not None:
        checks = [
            ("embed_dim", [embed_dim], choices.embed_dim),
            ("depth", [depth], choices.depth),
            ("mlp_ratio", mlp_ratio, choices.mlp_ratio),
            ("num_heads", num_heads, choices.num_heads),
        ]
        for name, values, allowed in checks:
            for i, v in enumerate(values):
                if v not in allowed:
                    where = f"{name}[{i}]" if name in ("mlp_ratio", "num_heads") else name
                    raise BadArchitecture(
                        f"{space}: {where} = {v!r} is not a choice of this space; "
                        f"choices: {', '.join(map(str, allowed))}"
                    )
    return {
        "embed_dim": embed_dim,
        "depth": depth,
        "mlp_ratio": mlp_ratio,
        "num_heads": num_heads,
    }


class AutoFormerBlock(nn.Module):
    """One pre-norm transformer layer: ``x + Attn(LN(x))``, then ``x + MLP(LN(x))``.

    Attention has ``num_heads`` heads of width 64 (Q-K-V width ``64 · num_heads``, independent of
    ``dim``); the MLP's hidden width is ``int(dim · mlp_ratio)`` with a GELU module.
    """

    def __init__(
        self, dim: int, *, num_heads: int, mlp_ratio: float, fused_attention: bool = False
    ) -> None:
        super().__init__()
        from timm.layers import Attention, Mlp

        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads=num_heads, attn_head_dim=HEAD_DIM, qkv_bias=True)
        self.attn.fused_attn = fused_attention
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden_features=int(dim * mlp_ratio), act_layer=nn.GELU)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class AutoFormerNet(nn.Module):
    """The Vision Transformer of one AutoFormer architecture (class token, learned position embedding)."""

    def __init__(
        self,
        arch: Mapping[str, Any],
        *,
        num_classes: int = 1000,
        resolution: int = 224,
        fused_attention: bool = False,
    ) -> None:
        super().__init__()
        from timm.layers import PatchEmbed, trunc_normal_

        spec = _canonical(arch, None, "autoformer")
        self.arch = spec
        dim = spec["embed_dim"]
        self.patch_embed = PatchEmbed(img_size=resolution, patch_size=PATCH_SIZE, embed_dim=dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, dim))
        self.blocks = nn.Sequential(
            *(
                AutoFormerBlock(dim, num_heads=h, mlp_ratio=r, fused_attention=fused_attention)
                for h, r in zip(spec["num_heads"], spec["mlp_ratio"])
            )
        )
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)
        if not self.pos_embed.is_meta:
            trunc_normal_(self.pos_embed, std=0.02)
            trunc_normal_(self.cls_token, std=0.02)
            self.apply(_init_weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(len(x), -1, -1), x], dim=1) + self.pos_embed
        x = self.norm(self.blocks(x))
        return self.head(x[:, 0])


def _init_weights(module: nn.Module) -> None:
    from timm.layers import trunc_normal_

    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class AutoFormer(SearchSpace):
    """An AutoFormer ViT space (``size`` ``"t"``, ``"s"`` or ``"b"``), registered as ``autoformer[-t|-s|-b]``.

    Mutation follows AutoFormer's evolution: with probability ``structure_prob`` the depth is re-drawn
    (new layers get random choices, removed layers are dropped) and, separately, the embedding width;
    each layer's MLP ratio and head count is re-drawn with probability ``prob``.

    Args:
        size: ``"t"`` (Tiny), ``"s"`` (Small) or ``"b"`` (Base).
        resolution: Input resolution of the built networks (a multiple of 16; 224 in the paper).
        fused_attention: Use PyTorch's fused attention (faster; no attention maps, no double backward
            on CPU).

    Example:
        >>> import json
        >>> import numpy as np
        >>> from lswag_plugin.spaces import get_space
        >>> space = get_space("autoformer", size="t", resolution=64)
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.decode(json.loads(json.dumps(space.encode(arch)))) == arch
        True
        >>> space.num_params(REFERENCE_ARCHS["t"], num_classes=1000, resolution=224)
        5768104
    """

    default_resolution = 224

    def __init__(
        self, *, size: str = "t", resolution: int = 224, fused_attention: bool = False
    ) -> None:
        key = str(size).lower()
        if key not in CHOICES:
            raise ValueError(f"AutoFormer size must be one of 't', 's', 'b', got {size!r}")
        if not isinstance(resolution, int) or resolution < PATCH_SIZE or resolution % PATCH_SIZE:
            raise ValueError(
                f"resolution must be a positive multiple of the patch size {PATCH_SIZE}, got {resolution!r}"
            )
        self.size = key
        self.name = f"autoformer-{key}"
        self.choices = CHOICES[key]
        self.default_resolution = resolution
        self.fused_attention = bool(fused_attention)

    def validate(self, arch: Any) -> dict[str, Any]:
        return _canonical(arch, self.choices, self.name)

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        c = self.choices
        depth = int(rng.choice(c.depth))
        return {
            "embed_dim": int(rng.choice(c.embed_dim)),
            "depth": depth,
            "mlp_ratio": [float(rng.choice(c.mlp_ratio)) for _ in range(depth)],
            "num_heads": [int(rng.choice(c.num_heads)) for _ in range(depth)],
        }

    def mutate(
        self,
        arch: Any,
        rng: np.random.Generator,
        *,
        prob: float = 0.2,
        structure_prob: float = 0.4,
    ) -> dict[str, Any]:
        for name, p in (("prob", prob), ("structure_prob", structure_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        c = self.choices
        child = copy.deepcopy(self.validate(arch))
        if rng.random() < structure_prob:
            depth = int(rng.choice(c.depth))
            old = child["depth"]
            if depth > old:
                child["mlp_ratio"] += [float(rng.choice(c.mlp_ratio)) for _ in range(depth - old)]
                child["num_heads"] += [int(rng.choice(c.num_heads)) for _ in range(depth - old)]
            else:
                child["mlp_ratio"] = child["mlp_ratio"][:depth]
                child["num_heads"] = child["num_heads"][:depth]
            child["depth"] = depth
        for i in range(child["depth"]):
            if rng.random() < prob:
                child["mlp_ratio"][i] = float(rng.choice(c.mlp_ratio))
        for i in range(child["depth"]):
            if rng.random() < prob:
                child["num_heads"][i] = int(rng.choice(c.num_heads))
        if rng.random() < structure_prob:
            child["embed_dim"] = int(rng.choice(c.embed_dim))
        return child

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Returns a child with each choice from ``a`` or ``b``; layers only one parent has come from it."""
        pa, pb = self.validate(a), self.validate(b)
        depth = pa["depth"] if rng.random() < 0.5 else pb["depth"]

        def layer(name: str, i: int) -> Any:
            have = [p[name][i] for p in (pa, pb) if i < p["depth"]]
            return have[int(rng.integers(len(have)))]

        return {
            "embed_dim": pa["embed_dim"] if rng.random() < 0.5 else pb["embed_dim"],
            "depth": depth,
            "mlp_ratio": [layer("mlp_ratio", i) for i in range(depth)],
            "num_heads": [layer("num_heads", i) for i in range(depth)],
        }

    def suggest(self, trial: Any, *, prefix: str = "") -> dict[str, Any]:
        """Returns the arch chosen by an Optuna trial.

        The parameters are ``depth`` and ``embed_dim``, then ``mlp_ratio_<i>`` and ``num_heads_<i>``
        for each of the ``depth`` layers (parameters conditional on the depth).
        """
        c = self.choices
        depth = trial.suggest_categorical(f"{prefix}depth", list(c.depth))
        arch = {
            "embed_dim": trial.suggest_categorical(f"{prefix}embed_dim", list(c.embed_dim)),
            "depth": depth,
            "mlp_ratio": [
                trial.suggest_categorical(f"{prefix}mlp_ratio_{i}", list(c.mlp_ratio))
                for i in range(depth)
            ],
            "num_heads": [
                trial.suggest_categorical(f"{prefix}num_heads_{i}", list(c.num_heads))
                for i in range(depth)
            ],
        }
        return self.validate(arch)

    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        """Returns the ViT of ``arch``; architectures outside the space's choices build too (e.g. AutoFormer-T)."""
        res = self.default_resolution if resolution is None else resolution
        if res % PATCH_SIZE or res < PATCH_SIZE:
            raise ValueError(f"resolution must be a positive multiple of {PATCH_SIZE}, got {res}")
        return AutoFormerNet(
            _canonical(arch, None, self.name),
            num_classes=num_classes,
            resolution=res,
            fused_attention=self.fused_attention,
        )

    def num_params(self, arch: Any, *, num_classes: int = 10, resolution: int | None = None) -> int:
        """Returns the exact parameter count of ``arch`` (analytic: no model is built)."""
        spec = _canonical(arch, None, self.name)
        res = self.default_resolution if resolution is None else resolution
        d = spec["embed_dim"]
        tokens = (res // PATCH_SIZE) ** 2 + 1
        total = 3 * PATCH_SIZE * PATCH_SIZE * d + d  # patch embedding conv
        total += d + tokens * d  # class token, position embedding
        for heads, ratio in zip(spec["num_heads"], spec["mlp_ratio"]):
            qkv = heads * HEAD_DIM
            hidden = int(d * ratio)
            total += 2 * d + d * 3 * qkv + 3 * qkv + qkv * d + d  # LN, qkv, proj
            total += 2 * d + d * hidden + hidden + hidden * d + d  # LN, MLP
        total += 2 * d + d * num_classes + num_classes  # final LN, head
        return total


@register_space("autoformer")
def autoformer(*, size: str = "t", **kwargs: Any) -> AutoFormer:
    """Returns an AutoFormer space (Tiny by default; ``size="s"`` or ``"b"`` for the others)."""
    return AutoFormer(size=size, **kwargs)


@register_space("autoformer-t")
def autoformer_t(**kwargs: Any) -> AutoFormer:
    """Returns the AutoFormer-Tiny space."""
    return AutoFormer(size="t", **kwargs)


@register_space("autoformer-s")
def autoformer_s(**kwargs: Any) -> AutoFormer:
    """Returns the AutoFormer-Small space."""
    return AutoFormer(size="s", **kwargs)


@register_space("autoformer-b")
def autoformer_b(**kwargs: Any) -> AutoFormer:
    """Returns the AutoFormer-Base space."""
    return AutoFormer(size="b", **kwargs)
