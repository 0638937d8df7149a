"""NAS-Bench-201 (Dong & Yang, ICLR 2020): the cell space and the exact network it builds.

A cell is a DAG on 4 nodes; each edge j→i (j < i) carries one of :data:`OPS`. The network (C=16, N=5):
stem conv3×3 + BN; N cells at C; residual reduction block; N cells at 2C; reduction; N cells at 4C;
BN-ReLU, global average pool, linear classifier. ReLUs are never in-place (a node feeds several edges).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace, register_space

__all__ = ["EDGES", "NB201", "NNI_OPS", "OPS", "NB201Network", "parse_arch", "to_arch_str"]

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Edges (to node i, from node j) in the order of the architecture string.
EDGES = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
_NODE = re.compile(r"^\|(.*)\|$")
#: NNI's NasBench201 hub space names the conv ops without the ``nor_`` prefix of NB201 strings.
NNI_OPS = {
    "none": "none",
    "skip_connect": "skip_connect",
    "conv_1x1": "nor_conv_1x1",
    "conv_3x3": "nor_conv_3x3",
    "avg_pool_3x3": "avg_pool_3x3",
}


def parse_arch(arch: str) -> tuple[str, ...]:
    """Returns the 6 ops of an NB201 string, in :data:`EDGES` order.

    Raises:
        BadArchitecture: The string is malformed; the message names the node or edge at fault.

    Example:
        >>> parse_arch("|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|")[:3]
        ('nor_conv_3x3', 'none', 'skip_connect')
    """
    if not isinstance(arch, str):
        raise BadArchitecture(
            f"an NB201 architecture is a string like '|op~0|+|op~0|op~1|+...', got {arch!r}"
        )
    nodes = arch.strip().split("+")
    if len(nodes) != 3:
        raise BadArchitecture(
            f"NB201 string must have 3 nodes separated by '+', got {len(nodes)}: {arch!r}"
        )
    ops: list[str] = []
    for i, node in enumerate(nodes, start=1):
        m = _NODE.match(node)
        if not m:
            raise BadArchitecture(f"NB201 node {i} must be enclosed in '|...|', got {node!r}")
        edges = m.group(1).split("|")
        if len(edges) != i:
            raise BadArchitecture(
                f"NB201 node {i} must have {i} input edge(s), got {len(edges)} in {node!r}"
            )
        for j, edge in enumerate(edges):
            op, sep, src = edge.partition("~")
            if not sep or src != str(j):
                raise BadArchitecture(f"NB201 edge {j}->{i} must be written 'op~{j}', got {edge!r}")
            if op not in OPS:
                raise BadArchitecture(
                    f"NB201 edge {j}->{i} has unknown op {op!r}; ops are {', '.join(OPS)}"
                )
            ops.append(op)
    return tuple(ops)


def to_arch_str(ops: tuple[str, ...] | list[str]) -> str:
    """Returns the NB201 string of 6 ops given in :data:`EDGES` order."""
    if len(ops) != 6:
        raise BadArchitecture(f"NB201 needs 6 edge ops, got {len(ops)}")
    return "+".join(
        "|" + "|".join(f"{ops[k]}~{j}" for k, (i, j) in enumerate(EDGES) if i == node) + "|"
        for node in (1, 2, 3)
    )


class ReLUConvBN(nn.Sequential):
    """ReLU → Conv(k×k, no bias) → BN, NB201's ``nor_conv_kxk``."""

    def __init__(self, c_in: int, c_out: int, kernel: int, stride: int, padding: int) -> None:
        super().__init__(
            nn.ReLU(inplace=False),
            nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=padding, bias=False),
            nn.BatchNorm2d(c_out),
        )


class Zero(nn.Module):
    """NB201's ``none``: zeros of the input's shape."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mul(0.0)


def _op(name: str, c: int) -> nn.Module:
    if name == "none":
        return Zero()
    if name == "skip_connect":
        return nn.Identity()
    if name == "nor_conv_1x1":
        return ReLUConvBN(c, c, 1, 1, 0)
    if name == "nor_conv_3x3":
        return ReLUConvBN(c, c, 3, 1, 1)
    return nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)


class Cell(nn.Module):
    """One NB201 cell: node i = Σ_j op_{j→i}(node j)."""

    def __init__(self, ops: tuple[str, ...], channels: int) -> None:
        super().__init__()
        self.edges = nn.ModuleList(_op(op, channels) for op in ops)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nodes = [x]
        k = 0
        for i in (1, 2, 3):
            total = self.edges[k](nodes[0])
            for j in range(1, i):
                total = total + self.edges[k + j](nodes[j])
            k += i
            nodes.append(total)
        return nodes[-1]


class ResidualReduction(nn.Module):
    """NB201's ResNet basic block with stride 2 (between stages)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.conv_a = ReLUConvBN(c_in, c_out, 3, 2, 1)
        self.conv_b = ReLUConvBN(c_out, c_out, 3, 1, 1)
        self.downsample = nn.Sequential(
            nn.AvgPool2d(kernel_size=2, stride=2, padding=0), nn.Conv2d(c_in, c_out, 1, bias=False)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.downsample(x) + self.conv_b(self.conv_a(x))


class NB201Network(nn.Module):
    """The NAS-Bench-201 network of one cell (C=16, N=5 by default)."""

    def __init__(
        self, arch: str, *, num_classes: int = 10, channels: int = 16, cells_per_stage: int = 5
    ) -> None:
        super().__init__()
        ops = parse_arch(arch)
        self.arch = to_arch_str(ops)
        c = channels
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c))
        layers: list[nn.Module] = []
        for stage in range(3):
            if stage > 0:
                layers.append(ResidualReduction(c, 2 * c))
                c *= 2
            layers += [Cell(ops, c) for _ in range(cells_per_stage)]
        self.cells = nn.Sequential(*layers)
        self.lastact = nn.Sequential(nn.BatchNorm2d(c), nn.ReLU(inplace=False))
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.lastact(self.cells(self.stem(x)))
        return self.classifier(self.global_pooling(out).flatten(1))


@register_space("nb201")
class NB201(SearchSpace):
    """The NAS-Bench-201 space: 5^6 = 15,625 cells, written as NB201 strings.

    Example:
        >>> import numpy as np
        >>> space = NB201()
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.decode(space.encode(arch)) == arch
        True
        >>> space.num_params("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|")
        1288506
    """

    name = "nb201"
    default_resolution = 32

    def __init__(self, *, channels: int = 16, cells_per_stage: int = 5) -> None:
        if channels < 1 or cells_per_stage < 1:
            raise ValueError("channels and cells_per_stage must be >= 1")
        self.channels = channels
        self.cells_per_stage = cells_per_stage

    def validate(self, arch: Any) -> str:
        return to_arch_str(parse_arch(arch))

    def sample(self, rng: np.random.Generator) -> str:
        return to_arch_str([OPS[i] for i in rng.integers(0, len(OPS), size=6)])

    def all_archs(self) -> list[str]:
        """Returns all 15,625 cells."""
        import itertools

        return [to_arch_str(ops) for ops in itertools.product(OPS, repeat=6)]

    def mutate(self, arch: Any, rng: np.random.Generator, *, prob: float = 0.2) -> str:
        ops = list(parse_arch(arch))
        changed = False
        for k in range(6):
            if rng.random() < prob:
                new = OPS[int(rng.integers(len(OPS)))]
                changed |= new != ops[k]
                ops[k] = new
        if not changed:  # always move: change one edge to a different op
            k = int(rng.integers(6))
            ops[k] = [o for o in OPS if o != ops[k]][int(rng.integers(len(OPS) - 1))]
        return to_arch_str(ops)

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> str:
        pa, pb = parse_arch(a), parse_arch(b)
        return to_arch_str([pa[k] if rng.random() < 0.5 else pb[k] for k in range(6)])

    def suggest(self, trial: Any, *, prefix: str = "") -> str:
        """Returns the NB201 string of six categorical parameters ``edge_<to>_<from>`` over the ops.

        The parameters are ``edge_1_0``, ``edge_2_0``, ``edge_2_1``, ... (:data:`EDGES` order).

        Example:
            >>> class Trial:  # optuna.trial.FixedTrial({"edge_1_0": "nor_conv_3x3", ...})
            ...     def suggest_categorical(self, name, choices):
            ...         return "nor_conv_3x3" if name == "edge_1_0" else "none"
            >>> NB201().suggest(Trial())
            '|nor_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|'
        """
        return to_arch_str(
            [trial.suggest_categorical(f"{prefix}edge_{i}_{j}", list(OPS)) for i, j in EDGES]
        )

    def from_nni_sample(self, sample: Mapping[str, Any]) -> str:
        """Returns the NB201 string of an NNI ``NasBench201`` hub-space sample.

        NNI labels the edges ``cell/{j}_{i}`` (from node j to node i) and names the convolutions
        ``conv_1x1``/``conv_3x3`` where NB201 strings say ``nor_conv_1x1``/``nor_conv_3x3``.

        Raises:
            BadArchitecture: An edge is missing or has an op NB201 does not know.

        Example:
            >>> sample = {"cell/0_1": "conv_3x3", "cell/0_2": "none", "cell/1_2": "skip_connect",
            ...           "cell/0_3": "avg_pool_3x3", "cell/1_3": "none", "cell/2_3": "conv_1x1"}
            >>> NB201().from_nni_sample(sample)
            '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|'
            >>> NB201().to_nni_sample(NB201().from_nni_sample(sample)) == sample
            True
        """
        ops = []
        for i, j in EDGES:
            key = f"cell/{j}_{i}"
            if key not in sample:
                raise BadArchitecture(
                    f"NNI NasBench201 sample lacks edge {key!r}; got keys {sorted(sample)}"
                )
            op = sample[key]
            if op not in NNI_OPS:
                raise BadArchitecture(
                    f"edge {key!r} has op {op!r}, which NB201 does not have; ops are {sorted(NNI_OPS)}"
                )
            ops.append(NNI_OPS[op])
        return to_arch_str(ops)

    def to_nni_sample(self, arch: Any) -> dict[str, Any]:
        """Returns the NNI ``NasBench201`` hub-space sample of ``arch``."""
        names = {ours: theirs for theirs, ours in NNI_OPS.items()}
        return {f"cell/{j}_{i}": names[op] for (i, j), op in zip(EDGES, parse_arch(arch))}

    def nni_model_space(self) -> Any:
        """Returns NNI's ``NasBench201`` hub space (its samples are read by :meth:`from_nni_sample`)."""
        import warnings

        with warnings.catch_warnings():  # NNI 3.0 predates torch.nn.Buffer: a harmless warning
            warnings.filterwarnings("ignore", message=".*is found to be not a nn.Module")
            from nni.nas.hub.pytorch import NasBench201

            return NasBench201()

    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        return NB201Network(
            arch,
            num_classes=num_classes,
            channels=self.channels,
            cells_per_stage=self.cells_per_stage,
        )
