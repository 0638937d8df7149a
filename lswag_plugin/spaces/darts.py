"""The DARTS cell space (Liu et al., ICLR 2019) as NAS-Bench-301 (Siems et al., 2020) uses it.

A cell has two inputs (node 0: the output of the cell before the previous one, node 1: of the previous
one) and four intermediate nodes 2..5; node ``i`` sums two ops applied to two different earlier nodes,
and the cell outputs the concatenation of nodes 2..5. A network has a normal and a reduction cell. An
architecture is a JSON-able dict in DARTS genotype order::

    {"normal": [[op, input], ... 8 pairs], "reduce": [[op, input], ... 8 pairs]}

(pairs 2k and 2k+1 feed node k + 2). The ops are :data:`OPS`, in NASLib's order (``none`` is not a
choice in NB301). The network is DARTS' evaluation network (``cnn/model.py`` of quark0/darts,
Apache-2.0): stem conv3×3 (3·C channels)-BN, ``cells`` cells with reduction cells (stride 2, channels
doubled) at 1/3 and 2/3 of the depth, each cell preprocessing its inputs with ReLU-conv1×1-BN (a
factorized reduction after a reduction cell), global average pool, linear classifier. Auxiliary head
and drop-path are not built: the network is for scoring at initialisation.

``style`` chooses the ops' batch norms:

- ``"naslib"`` (default of ``darts``): as NASLib's ``NasBench301SearchSpace`` builds them, i.e. the
  networks NAS-Bench-Suite-Zero scored: BN inside the cell ops without affine parameters, and a
  non-affine BN after each pooling op. Parameter counts equal the ``params`` column of NASLib's
  ``zc_nasbench301.json`` exactly.
- ``"darts"`` (default of the ``darts-eval`` preset): DARTS' evaluation ops (affine BN, bare pools),
  as NB301's networks were trained; each cell-op BN adds 2 parameters per channel.

NASLib's keys (``naslib/data/zc_nasbench301.json`` of automl/NASLib, Apache-2.0) are NASLib's
"compact" form: two lists of 8 ``(input node, op index)`` pairs; :func:`from_naslib_key` and
:func:`to_naslib_key` convert (op order: NASLib's ``search_spaces/nasbench301/conversions.py``).
"""

from __future__ import annotations

import ast
import copy
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace, register_space

__all__ = [
    "CELL_TYPES",
    "DARTS",
    "DARTS_V2",
    "OPS",
    "PRESETS",
    "DartsCell",
    "DartsNetwork",
    "from_naslib_key",
    "to_naslib_key",
]

#: Candidate ops, in NASLib's order: a NASLib op index is a position in this tuple.
OPS = (
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
)
CELL_TYPES = ("normal", "reduce")
NODES = 4
STYLES = ("naslib", "darts")
#: Keyword presets: NB301's network (the default) and the DARTS paper's CIFAR-10 evaluation network.
PRESETS: dict[str, dict[str, Any]] = {
    "nb301": {"channels": 32, "cells": 8, "style": "naslib"},
    "darts-eval": {"channels": 36, "cells": 20, "style": "darts"},
}
#: DARTS (second order), the cell of the DARTS paper (``genotypes.py`` of quark0/darts).
DARTS_V2: dict[str, list[list[Any]]] = {
    "normal": [
        ["sep_conv_3x3", 0],
        ["sep_conv_3x3", 1],
        ["sep_conv_3x3", 0],
        ["sep_conv_3x3", 1],
        ["sep_conv_3x3", 1],
        ["skip_connect", 0],
        ["skip_connect", 0],
        ["dil_conv_3x3", 2],
    ],
    "reduce": [
        ["max_pool_3x3", 0],
        ["max_pool_3x3", 1],
        ["skip_connect", 2],
        ["max_pool_3x3", 1],
        ["max_pool_3x3", 0],
        ["skip_connect", 2],
        ["skip_connect", 2],
        ["max_pool_3x3", 1],
    ],
}


def _pairs(cell: Any, kind: str) -> list[list[Any]]:
    if isinstance(cell, str | bytes) or not isinstance(cell, Sequence):
        raise BadArchitecture(
            f"darts: {kind} cell must be a list of 8 [op, input] pairs, got {cell!r}"
        )
    if len(cell) != 2 * NODES:
        raise BadArchitecture(
            f"darts: {kind} cell has {len(cell)} pairs; it needs {2 * NODES} (two per node 2..5)"
        )
    out: list[list[Any]] = []
    for k, pair in enumerate(cell):
        node = k // 2 + 2
        if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
            raise BadArchitecture(f"darts: {kind} pair {k} must be [op, input], got {pair!r}")
        op, src = pair
        if op not in OPS:
            raise BadArchitecture(
                f"darts: {kind} pair {k} has unknown op {op!r}; ops are {', '.join(OPS)}"
            )
        if isinstance(src, bool) or not isinstance(src, int | np.integer):
            raise BadArchitecture(f"darts: {kind} pair {k} input must be an integer, got {src!r}")
        if not 0 <= src < node:
            raise BadArchitecture(
                f"darts: {kind} node {node} reads node {src}: a node reads only earlier nodes "
                f"(0..{node - 1}; 0 and 1 are the cell inputs)"
            )
        out.append([str(op), int(src)])
    for node in range(2, NODES + 2):
        a, b = out[2 * (node - 2)][1], out[2 * (node - 2) + 1][1]
        if a == b:
            raise BadArchitecture(
                f"darts: {kind} node {node} reads node {a} twice; its two inputs must differ"
            )
    return out


def validate_arch(arch: Any) -> dict[str, list[list[Any]]]:
    """Returns ``arch`` (a dict or its JSON) as a canonical dict, or raises :class:`BadArchitecture`."""
    if isinstance(arch, str):
        try:
            arch = json.loads(arch)
        except json.JSONDecodeError as exc:
            raise BadArchitecture(f"darts: cannot parse architecture JSON {arch!r}: {exc}") from exc
    if not isinstance(arch, Mapping) or set(arch) != set(CELL_TYPES):
        raise BadArchitecture(
            f'darts: an architecture is a dict {{"normal": [[op, input], ...8], "reduce": [...]}}, '
            f"got {arch!r}"
        )
    return {kind: _pairs(arch[kind], kind) for kind in CELL_TYPES}


def from_naslib_key(key: str | Sequence[Any]) -> dict[str, list[list[Any]]]:
    """Returns the architecture of a NASLib NB301 key (two lists of 8 ``(input, op index)`` pairs).

    Raises:
        BadArchitecture: A malformed key, an op index outside 0..6 or an invalid cell.

    Example:
        >>> key = str([[(0, 3), (1, 3)] * 4, [(0, 0), (1, 1)] * 4])
        >>> from_naslib_key(key)["reduce"][:2]
        [['max_pool_3x3', 0], ['avg_pool_3x3', 1]]
    """
    if isinstance(key, str):
        try:
            value = ast.literal_eval(key)
        except (ValueError, SyntaxError) as exc:
            raise BadArchitecture(f"darts: cannot parse NASLib key {key!r}: {exc}") from exc
    else:
        value = key
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise BadArchitecture(
            f"darts: a NASLib key is two lists (normal, reduction) of 8 (input, op) pairs, got {key!r}"
        )
    arch: dict[str, list[list[Any]]] = {}
    for kind, cell in zip(CELL_TYPES, value):
        if isinstance(cell, str | bytes) or not isinstance(cell, Sequence):
            raise BadArchitecture(f"darts: {kind} part of the NASLib key is not a list: {cell!r}")
        pairs: list[list[Any]] = []
        for k, pair in enumerate(cell):
            if isinstance(pair, str | bytes) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise BadArchitecture(f"darts: {kind} pair {k} of the NASLib key is {pair!r}")
            src, idx = pair
            if isinstance(idx, bool) or not isinstance(idx, int) or not 0 <= idx < len(OPS):
                raise BadArchitecture(
                    f"darts: {kind} pair {k} has unknown NASLib op index {idx!r}; indices are "
                    + ", ".join(f"{i}={name}" for i, name in enumerate(OPS))
                )
            pairs.append([OPS[idx], src])
        arch[kind] = pairs
    return validate_arch(arch)


def to_naslib_key(arch: Any) -> str:
    """Returns the NASLib key of ``arch``, written as NASLib's files write it.

    Example:
        >>> to_naslib_key(DARTS_V2)[:40]
        '[[(0, 3), (1, 3), (0, 3), (1, 3), (1, 3)'
    """
    a = validate_arch(arch)
    return str([[(src, OPS.index(op)) for op, src in a[kind]] for kind in CELL_TYPES])


class ReLUConvBN(nn.Sequential):
    """ReLU → Conv(k×k, no bias) → BN (ReLU not in-place: a node feeds several ops)."""

    def __init__(
        self, c_in: int, c_out: int, kernel: int, stride: int, padding: int, affine: bool = True
    ) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out, affine=affine),
        )


class DilConv(nn.Sequential):
    """ReLU → depthwise dilated conv → pointwise conv → BN (DARTS' ``dil_conv_kxk``)."""

    def __init__(self, c: int, kernel: int, stride: int, affine: bool) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                c, c, kernel, stride=stride, padding=kernel - 1, dilation=2, groups=c, bias=False
            ),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


class SepConv(nn.Sequential):
    """Two stacked (ReLU → depthwise conv → pointwise conv → BN), DARTS' ``sep_conv_kxk``."""

    def __init__(self, c: int, kernel: int, stride: int, affine: bool) -> None:
        pad = kernel // 2
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=stride, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
            nn.ReLU(inplace=False),
            nn.Conv2d(c, c, kernel, stride=1, padding=pad, groups=c, bias=False),
            nn.Conv2d(c, c, 1, bias=False),
            nn.BatchNorm2d(c, affine=affine),
        )


class FactorizedReduce(nn.Module):
    """ReLU, two stride-2 1×1 convs (the second shifted by one pixel) concatenated, BN."""

    def __init__(self, c_in: int, c_out: int, affine: bool = True) -> None:
        super().__init__()
        if c_out % 2:
            raise ValueError(
                f"FactorizedReduce needs an even number of output channels, got {c_out}"
            )
        self.relu = nn.ReLU(inplace=False)
        self.conv_1 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.conv_2 = nn.Conv2d(c_in, c_out // 2, 1, stride=2, bias=False)
        self.bn = nn.BatchNorm2d(c_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        a = self.conv_1(x)
        b = self.conv_2(x[:, :, 1:, 1:])
        if b.shape[-2:] != a.shape[-2:]:  # odd input size: pad the shifted branch
            b = nn.functional.pad(b, (0, a.shape[-1] - b.shape[-1], 0, a.shape[-2] - b.shape[-2]))
        return self.bn(torch.cat([a, b], dim=1))


def _op(name: str, c: int, stride: int, style: str) -> nn.Module:
    affine = style == "darts"
    if name in ("max_pool_3x3", "avg_pool_3x3"):
        pool: nn.Module = (
            nn.MaxPool2d(3, stride=stride, padding=1)
            if name == "max_pool_3x3"
            else nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)
        )
        return pool if affine else nn.Sequential(pool, nn.BatchNorm2d(c, affine=False))
    if name == "skip_connect":
        return nn.Identity() if stride == 1 else FactorizedReduce(c, c, affine=affine)
    kernel = 3 if name.endswith("3x3") else 5
    if name.startswith("sep"):
        return SepConv(c, kernel, stride, affine)
    return DilConv(c, kernel, stride, affine)


class DartsCell(nn.Module):
    """One DARTS cell: inputs preprocessed to ``c`` channels, 4 nodes, output 4·``c`` channels."""

    def __init__(
        self,
        pairs: Sequence[Sequence[Any]],
        c_prev_prev: int,
        c_prev: int,
        c: int,
        *,
        reduction: bool,
        reduction_prev: bool,
        style: str,
    ) -> None:
        super().__init__()
        self.preprocess0 = (
            FactorizedReduce(c_prev_prev, c)
            if reduction_prev
            else ReLUConvBN(c_prev_prev, c, 1, 1, 0)
        )
        self.preprocess1 = ReLUConvBN(c_prev, c, 1, 1, 0)
        self.reduction = reduction
        self.indices = [int(src) for _, src in pairs]
        self.edges = nn.ModuleList(
            _op(op, c, 2 if reduction and src < 2 else 1, style) for op, src in pairs
        )
        self.multiplier = NODES

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [self.preprocess0(s0), self.preprocess1(s1)]
        for node in range(NODES):
            a, b = 2 * node, 2 * node + 1
            states.append(
                self.edges[a](states[self.indices[a]]) + self.edges[b](states[self.indices[b]])
            )
        return torch.cat(states[2:], dim=1)


class DartsNetwork(nn.Module):
    """DARTS' CIFAR evaluation network of one genotype (no auxiliary head, no drop-path)."""

    def __init__(
        self,
        arch: Any,
        *,
        num_classes: int = 10,
        channels: int = 32,
        cells: int = 8,
        style: str = "naslib",
    ) -> None:
        super().__init__()
        spec = validate_arch(arch)
        self.arch = spec
        c_curr = 3 * channels
        self.stem = nn.Sequential(
            nn.Conv2d(3, c_curr, 3, padding=1, bias=False), nn.BatchNorm2d(c_curr)
        )
        c_prev_prev, c_prev, c_curr = c_curr, c_curr, channels
        self.cells = nn.ModuleList()
        reduction_prev = False
        for i in range(cells):
            reduction = i in (cells // 3, 2 * cells // 3)
            if reduction:
                c_curr *= 2
            cell = DartsCell(
                spec["reduce" if reduction else "normal"],
                c_prev_prev,
                c_prev,
                c_curr,
                reduction=reduction,
                reduction_prev=reduction_prev,
                style=style,
            )
            self.cells.append(cell)
            reduction_prev = reduction
            c_prev_prev, c_prev = c_prev, cell.multiplier * c_curr
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c_prev, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.classifier(self.global_pooling(s1).flatten(1))


class DARTS(SearchSpace):
    """The DARTS / NAS-Bench-301 cell space (registered as ``darts``; ``darts-eval`` for the paper's network).

    Args:
        preset: ``"nb301"`` (32 channels, 8 cells, NASLib's ops) or ``"darts-eval"`` (36 channels,
            20 cells, DARTS' evaluation ops); explicit keywords override it.
        channels: Channels of the first cells (the stem has 3×).
        cells: Number of cells (≥ 3); reduction cells at ``cells // 3`` and ``2 * cells // 3``.
        style: ``"naslib"`` or ``"darts"`` batch norms in the cell ops (see the module docstring).

    Example:
        >>> import numpy as np
        >>> space = DARTS()
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.decode(space.encode(arch)) == arch
        True
        >>> DARTS(preset="darts-eval").num_params(DARTS_V2)
        3349342
    """

    default_resolution = 32

    def __init__(
        self,
        *,
        preset: str = "nb301",
        channels: int | None = None,
        cells: int | None = None,
        style: str | None = None,
    ) -> None:
        if preset not in PRESETS:
            raise ValueError(f"unknown DARTS preset {preset!r}; presets: {', '.join(PRESETS)}")
        cfg = dict(PRESETS[preset])
        for key, value in (("channels", channels), ("cells", cells), ("style", style)):
            if value is not None:
                cfg[key] = value
        for key, low in (("channels", 1), ("cells", 3)):
            v = cfg[key]
            if isinstance(v, bool) or not isinstance(v, int) or v < low:
                raise ValueError(f"{key} must be an integer >= {low}, got {v!r}")
        if cfg["style"] not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)}, got {cfg['style']!r}")
        self.preset = preset
        self.channels: int = cfg["channels"]
        self.cells: int = cfg["cells"]
        self.style: str = cfg["style"]
        self.name = "darts" if preset == "nb301" else preset

    def validate(self, arch: Any) -> dict[str, list[list[Any]]]:
        """Returns ``arch`` (a dict or its JSON) in canonical form, or raises :class:`BadArchitecture`."""
        return validate_arch(arch)

    def encode(self, arch: Any) -> str:
        return json.dumps(self.validate(arch), sort_keys=True, separators=(",", ":"))

    def sample(self, rng: np.random.Generator) -> dict[str, list[list[Any]]]:
        """Returns a uniform cell pair: each node reads 2 distinct earlier nodes through uniform ops."""
        arch: dict[str, list[list[Any]]] = {}
        for kind in CELL_TYPES:
            pairs: list[list[Any]] = []
            for node in range(2, NODES + 2):
                for src in rng.choice(node, size=2, replace=False):
                    pairs.append([OPS[int(rng.integers(len(OPS)))], int(src)])
            arch[kind] = pairs
        return arch

    def mutate(
        self, arch: Any, rng: np.random.Generator, *, prob: float = 0.2
    ) -> dict[str, list[list[Any]]]:
        """Returns a different valid arch: each op and each input re-drawn with probability ``prob``.

        A re-drawn input never equals the other input of its node. When nothing changed, one op is
        set to a different op.
        """
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"prob must be in [0, 1], got {prob}")
        parent = validate_arch(arch)
        child = copy.deepcopy(parent)
        for kind in CELL_TYPES:
            pairs = child[kind]
            for k, pair in enumerate(pairs):
                node = k // 2 + 2
                if rng.random() < prob:
                    pair[0] = OPS[int(rng.integers(len(OPS)))]
                if rng.random() < prob:
                    other = pairs[k ^ 1][1]
                    choices = [s for s in range(node) if s != other]
                    pair[1] = int(choices[int(rng.integers(len(choices)))])
        if child == parent:
            kind = CELL_TYPES[int(rng.integers(2))]
            k = int(rng.integers(2 * NODES))
            old = child[kind][k][0]
            child[kind][k][0] = [o for o in OPS if o != old][int(rng.integers(len(OPS) - 1))]
        return child

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> dict[str, list[list[Any]]]:
        """Returns a child taking each node (its two pairs) of each cell from ``a`` or ``b``."""
        pa, pb = validate_arch(a), validate_arch(b)
        child: dict[str, list[list[Any]]] = {}
        for kind in CELL_TYPES:
            pairs: list[list[Any]] = []
            for node in range(NODES):
                src = pa if rng.random() < 0.5 else pb
                pairs += copy.deepcopy(src[kind][2 * node : 2 * node + 2])
            child[kind] = pairs
        return child

    def suggest(self, trial: Any, *, prefix: str = "") -> dict[str, list[list[Any]]]:
        """Returns the genotype dict chosen by an Optuna trial.

        Per cell ``normal``/``reduce`` and node ``k`` = 2..5: ``<cell>_node<k>_in0`` over the earlier
        nodes 0..k-1 and ``<cell>_node<k>_op0`` over the seven ops, then the second input, conditional
        on the first (the two must differ): ``<cell>_node<k>_in1_not<in0>`` over the other earlier
        nodes, and ``<cell>_node<k>_op1``.
        """
        arch: dict[str, list[list[Any]]] = {}
        for kind in CELL_TYPES:
            pairs: list[list[Any]] = []
            for node in range(2, NODES + 2):
                name = f"{prefix}{kind}_node{node}"
                first = trial.suggest_categorical(f"{name}_in0", list(range(node)))
                pairs.append([trial.suggest_categorical(f"{name}_op0", list(OPS)), first])
                second = trial.suggest_categorical(
                    f"{name}_in1_not{first}", [s for s in range(node) if s != first]
                )
                pairs.append([trial.suggest_categorical(f"{name}_op1", list(OPS)), second])
            arch[kind] = pairs
        return self.validate(arch)

    def from_nni_sample(self, sample: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
        """Returns the genotype dict of an NNI ``DARTS`` hub-space sample.

        NNI labels the op and input of the k-th (0, 1) operator of node i (2..5) ``normal/op_{i}_{k}``
        and ``normal/input_{i}_{k}`` (a one-element list), and the same under ``reduce/``; a genotype
        lists them in that order (pairs 2(i-2)+k). The op names and their order are the same as ours.

        Raises:
            BadArchitecture: A key is missing, an op is unknown, or a node reads the same input with
                both of its operators: NNI's space allows that, DARTS genotypes (and NB301) do not.

        Example:
            >>> space = DARTS()
            >>> space.from_nni_sample(space.to_nni_sample(DARTS_V2)) == DARTS_V2
            True
        """
        arch: dict[str, list[list[Any]]] = {}
        for kind in CELL_TYPES:
            pairs: list[list[Any]] = []
            for node in range(2, NODES + 2):
                for k in range(2):
                    op_key, input_key = f"{kind}/op_{node}_{k}", f"{kind}/input_{node}_{k}"
                    for key in (op_key, input_key):
                        if key not in sample:
                            raise BadArchitecture(
                                f"NNI DARTS sample lacks {key!r}; got keys {sorted(sample)}"
                            )
                    src = sample[input_key]
                    if not isinstance(src, int):
                        if len(src) != 1:
                            raise BadArchitecture(f"{input_key} must choose one input, got {src!r}")
                        src = src[0]
                    pairs.append([sample[op_key], src])
            arch[kind] = pairs
        try:
            return validate_arch(arch)
        except BadArchitecture as exc:
            raise BadArchitecture(
                f"{exc} (NNI's DARTS space lets both operators of a node read the same input; "
                "the darts space, as DARTS genotypes and NB301, needs two different inputs)"
            ) from None

    def to_nni_sample(self, arch: Any) -> dict[str, Any]:
        """Returns the NNI ``DARTS`` hub-space sample of a genotype (the inverse of :meth:`from_nni_sample`).

        Example:
            >>> sample = DARTS().to_nni_sample(DARTS_V2)
            >>> sample["normal/op_5_1"], sample["normal/input_5_1"]
            ('dil_conv_3x3', [2])
        """
        genotype = validate_arch(arch)
        sample: dict[str, Any] = {}
        for kind in CELL_TYPES:
            for index, (op, src) in enumerate(genotype[kind]):
                node, k = index // 2 + 2, index % 2
                sample[f"{kind}/op_{node}_{k}"] = op
                sample[f"{kind}/input_{node}_{k}"] = [src]
        return sample

    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        """Returns the network of ``arch`` (fully convolutional: any resolution ≥ 4 works)."""
        return DartsNetwork(
            arch,
            num_classes=num_classes,
            channels=self.channels,
            cells=self.cells,
            style=self.style,
        )


@register_space("darts")
def darts(**kwargs: Any) -> DARTS:
    """Returns the DARTS space (NB301's network by default; ``preset="darts-eval"`` for the paper's)."""
    return DARTS(**kwargs)


@register_space("darts-eval")
def darts_eval(**kwargs: Any) -> DARTS:
    """Returns the DARTS space with the DARTS paper's evaluation network (36 channels, 20 cells)."""
    return DARTS(**{"preset": "darts-eval", **kwargs})
