"""NAS-Bench-101 (Ying et al., ICML 2019): the cell space and the network it trains.

A cell is a DAG of at most 7 vertices (input, up to 5 interior ops, output) with at most 9 edges, given
as an upper-triangular 0/1 adjacency matrix and one op per vertex. Interior ops are :data:`OPS`. The
network follows the official ``nasbench/lib/model_builder.py`` (google-research/nasbench, Apache-2.0):

- stem: conv3×3 (128 channels)-BN-ReLU; 3 stacks of 3 cells; between stacks a 2×2 max pool with
  stride 2 and the channels doubled; global average pool; linear classifier.
- inside a cell, the channels of the output are split among the vertices that feed it (the remainder
  goes to the first ones, one channel each); every other vertex gets the largest width among its
  successors; a vertex reading the cell input reads it through a 1×1 conv-BN-ReLU projection, a
  vertex reading an interior vertex takes that vertex's first channels; the output is the
  concatenation of the vertices feeding it, plus the projected input when input→output is an edge
  (the projection alone when no interior vertex feeds the output).

An architecture is a JSON-able dict ``{"matrix": [[0, 1, ...], ...], "ops": ["input", ..., "output"]}``.
:meth:`NB101.validate` prunes it as NB101's ``ModelSpec`` does (vertices not on an input→output path
are removed) and checks the limits on the pruned cell (≤ 7 vertices, ≤ 9 edges), as the NB101 API does.
Validation keeps the vertex order: cells that differ only in vertex labels are different values (their
networks can differ by a few parameters: the remainder channels go to the first vertices), and
:func:`isomorphism_key` gives the string that identifies them.

NASLib's keys (``naslib/data/zc_nasbench101.json`` of automl/NASLib, Apache-2.0) are tuples of the
flattened adjacency matrix then one index per vertex into :data:`NASLIB_OPS` (NASLib's
``search_spaces/nasbench101/conversions.py``: ``[input, output, maxpool3x3, conv1x1-bn-relu,
conv3x3-bn-relu]``); :func:`from_naslib_key` and :func:`to_naslib_key` convert.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces._base import SearchSpace, register_space

__all__ = [
    "MAX_EDGES",
    "MAX_VERTICES",
    "NASLIB_OPS",
    "NB101",
    "OPS",
    "NB101Cell",
    "NB101Network",
    "from_naslib_key",
    "isomorphism_key",
    "prune",
    "to_naslib_key",
    "vertex_channels",
]

#: Interior ops of a cell.
OPS = ("conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3")
#: NASLib's op indices (``all_ops`` of NASLib's nasbench101 conversions): index → name.
NASLIB_OPS = ("input", "output", "maxpool3x3", "conv1x1-bn-relu", "conv3x3-bn-relu")
MAX_VERTICES = 7
MAX_EDGES = 9
#: BatchNorm as NB101's TensorFlow code: decay .997 (PyTorch momentum .003), epsilon 1e-5.
_BN = {"momentum": 0.003, "eps": 1e-5}
_INT = re.compile(r"-?\d+")


def prune(matrix: np.ndarray, ops: Sequence[str]) -> tuple[np.ndarray, list[str]] | None:
    """Returns the cell restricted to the vertices on an input→output path (order kept).

    Returns ``None`` when the output cannot be reached from the input (a disconnected cell).

    Example:
        >>> m = np.array([[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0], [0, 0, 0, 0]])
        >>> pm, pops = prune(m, ["input", "conv3x3-bn-relu", "maxpool3x3", "output"])
        >>> pm.tolist(), pops
        ([[0, 1, 0], [0, 0, 1], [0, 0, 0]], ['input', 'conv3x3-bn-relu', 'output'])
    """
    n = len(matrix)
    reach_from = [False] * n
    reach_from[0] = True
    for j in range(n):
        if reach_from[j]:
            for i in range(j + 1, n):
                if matrix[j, i]:
                    reach_from[i] = True
    reach_to = [False] * n
    reach_to[n - 1] = True
    for j in range(n - 1, -1, -1):
        if reach_to[j]:
            for i in range(j):
                if matrix[i, j]:
                    reach_to[i] = True
    if not reach_from[n - 1]:
        return None
    keep = [i for i in range(n) if reach_from[i] and reach_to[i]]
    return matrix[np.ix_(keep, keep)], [ops[i] for i in keep]


def _matrix(value: Any) -> np.ndarray:
    """Returns ``value`` as a square, strictly upper-triangular 0/1 int matrix, or raises."""
    try:
        rows = [list(r) for r in value]
    except TypeError:
        raise BadArchitecture(f"nb101: matrix must be a list of 0/1 lists, got {value!r}") from None
    n = len(rows)
    if n < 2:
        raise BadArchitecture(
            f"nb101: matrix must have at least 2 vertices (input, output), got {n}"
        )
    for i, r in enumerate(rows):
        if len(r) != n:
            raise BadArchitecture(
                f"nb101: matrix is not square: row {i} has {len(r)} entries, expected {n}"
            )
        for j, v in enumerate(r):
            if isinstance(v, bool) or v not in (0, 1):
                raise BadArchitecture(f"nb101: matrix[{i}][{j}] must be 0 or 1, got {v!r}")
            if v and j <= i:
                raise BadArchitecture(
                    f"nb101: matrix is not upper-triangular: edge {i}->{j} "
                    "(an edge must go from a vertex to a later one)"
                )
    return np.array(rows, dtype=np.int64).reshape(n, n)


def _cell(arch: Any) -> tuple[np.ndarray, list[str]]:
    """Returns the pruned (matrix, ops) of ``arch`` (a dict or its JSON), or raises naming the problem."""
    if isinstance(arch, str):
        try:
            arch = json.loads(arch)
        except json.JSONDecodeError as exc:
            raise BadArchitecture(f"nb101: cannot parse architecture JSON {arch!r}: {exc}") from exc
    if not isinstance(arch, Mapping) or set(arch) != {"matrix", "ops"}:
        raise BadArchitecture(
            f'nb101: an architecture is a dict {{"matrix": [[0/1, ...], ...], "ops": ["input", ..., '
            f'"output"]}}, got {arch!r}'
        )
    matrix = _matrix(arch["matrix"])
    ops = arch["ops"]
    if isinstance(ops, str) or not isinstance(ops, Sequence):
        raise BadArchitecture(f"nb101: ops must be a list of op names, got {ops!r}")
    ops = list(ops)
    n = len(matrix)
    if len(ops) != n:
        raise BadArchitecture(f"nb101: {len(ops)} ops for a {n}-vertex matrix: give one per vertex")
    if ops[0] != "input" or ops[-1] != "output":
        raise BadArchitecture(
            f"nb101: the first op must be 'input' and the last 'output', got {ops[0]!r}, {ops[-1]!r}"
        )
    for i, op in enumerate(ops[1:-1], start=1):
        if op not in OPS:
            raise BadArchitecture(
                f"nb101: vertex {i} has unknown op {op!r}; ops are {', '.join(OPS)}"
            )
    pruned = prune(matrix, ops)
    if pruned is None:
        raise BadArchitecture("nb101: disconnected cell: no path from the input to the output")
    pm, pops = pruned
    if len(pm) > MAX_VERTICES:
        raise BadArchitecture(
            f"nb101: {len(pm)} vertices on input→output paths; NB101 allows at most {MAX_VERTICES}"
        )
    edges = int(pm.sum())
    if edges > MAX_EDGES:
        raise BadArchitecture(
            f"nb101: {edges} edges on input→output paths; NB101 allows at most {MAX_EDGES}"
        )
    return pm, pops


def _as_dict(matrix: np.ndarray, ops: Sequence[str]) -> dict[str, Any]:
    return {"matrix": [[int(v) for v in row] for row in matrix], "ops": list(ops)}


def isomorphism_key(arch: Any) -> str:
    """Returns a string equal for two cells exactly when their pruned graphs are isomorphic.

    It is the JSON of the relabelling (a topological order of the interior vertices) whose
    ``(ops, matrix)`` is smallest; NB101 identifies cells the same way (by a graph hash).

    Example:
        >>> a = {"matrix": [[0, 1, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1], [0, 0, 0, 0]],
        ...      "ops": ["input", "conv3x3-bn-relu", "maxpool3x3", "output"]}
        >>> b = {"matrix": a["matrix"], "ops": ["input", "maxpool3x3", "conv3x3-bn-relu", "output"]}
        >>> isomorphism_key(a) == isomorphism_key(b)
        True
    """
    matrix, ops = _cell(arch)
    n = len(matrix)
    best: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    best_perm: tuple[int, ...] = tuple(range(n))
    rank = {op: i for i, op in enumerate(("input", *OPS, "output"))}
    for inner in itertools.permutations(range(1, n - 1)):
        perm = (0, *inner, n - 1)  # new position k holds old vertex perm[k]
        sub = matrix[np.ix_(perm, perm)]
        if np.tril(sub).any():
            continue  # not a topological order
        key = (tuple(rank[ops[p]] for p in perm), tuple(sub.ravel().tolist()))
        if best is None or key < best:
            best, best_perm = key, perm
    sub = matrix[np.ix_(best_perm, best_perm)]
    return json.dumps(
        _as_dict(sub, [ops[p] for p in best_perm]), sort_keys=True, separators=(",", ":")
    )


def from_naslib_key(key: str | Sequence[int]) -> dict[str, Any]:
    """Returns the (pruned) architecture of a NASLib NB101 key: n·n adjacency entries, then n op indices.

    Raises:
        BadArchitecture: Not n² + n integers, an op index outside :data:`NASLIB_OPS`, or an invalid cell.

    Example:
        >>> key = "(0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 4, 1)"
        >>> from_naslib_key(key)["ops"]
        ['input', 'conv3x3-bn-relu', 'output']
    """
    values = [int(v) for v in _INT.findall(key)] if isinstance(key, str) else [int(v) for v in key]
    n = next((k for k in range(2, 64) if k * k + k == len(values)), None)
    if n is None:
        raise BadArchitecture(
            f"nb101: a NASLib key has n*n adjacency entries then n op indices (56 for 7 vertices), "
            f"got {len(values)} numbers"
        )
    ops: list[str] = []
    for i, v in enumerate(values[n * n :]):
        if not 0 <= v < len(NASLIB_OPS):
            raise BadArchitecture(
                f"nb101: unknown NASLib op index {v} at vertex {i}; indices are "
                + ", ".join(f"{k}={name}" for k, name in enumerate(NASLIB_OPS))
            )
        ops.append(NASLIB_OPS[v])
    matrix = np.array(values[: n * n]).reshape(n, n).tolist()
    return validate_arch({"matrix": matrix, "ops": ops})


def to_naslib_key(arch: Any, *, vertices: int = MAX_VERTICES) -> str:
    """Returns the NASLib key of ``arch`` (pruned first), padded to ``vertices`` vertices.

    Padding vertices (``conv3x3-bn-relu``, no edges) are inserted before the output; they are pruned
    again by :func:`from_naslib_key`, so ``from_naslib_key(to_naslib_key(a)) == validate(a)``. Keys of
    NASLib's files are not pruned, so a file key whose cell prunes to fewer vertices (or loses edges)
    comes back as a different (equivalent) key.

    Example:
        >>> arch = {"matrix": [[0, 1, 0], [0, 0, 1], [0, 0, 0]], "ops": ["input", "maxpool3x3", "output"]}
        >>> to_naslib_key(arch, vertices=3)
        '(0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 2, 1)'
    """
    matrix, ops = _cell(arch)
    n = len(matrix)
    if not n <= vertices <= MAX_VERTICES:
        raise BadArchitecture(
            f"nb101: cannot write a {n}-vertex cell as a {vertices}-vertex NASLib key"
        )
    full = np.zeros((vertices, vertices), dtype=np.int64)
    old = [*range(n - 1), vertices - 1]  # old vertex k → new index
    for i in range(n):
        for j in range(n):
            full[old[i], old[j]] = matrix[i, j]
    full_ops = [*ops[:-1], *["conv3x3-bn-relu"] * (vertices - n), "output"]
    values = [*full.ravel().tolist(), *(NASLIB_OPS.index(op) for op in full_ops)]
    return "(" + ", ".join(map(str, values)) + ")"


def validate_arch(arch: Any) -> dict[str, Any]:
    """Returns the pruned cell of ``arch`` as a dict, or raises :class:`BadArchitecture`."""
    return _as_dict(*_cell(arch))


def vertex_channels(in_channels: int, out_channels: int, matrix: np.ndarray) -> list[int]:
    """Returns each vertex's width (NB101's ``compute_vertex_channels``) for a pruned cell.

    Example:
        >>> m = np.array([[0, 1, 1, 1, 0], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 1],
        ...               [0, 0, 0, 0, 0]])
        >>> vertex_channels(128, 128, m)
        [128, 43, 43, 42, 128]
    """
    n = len(matrix)
    channels = [0] * n
    channels[0] = in_channels
    channels[n - 1] = out_channels
    if n == 2:
        return channels
    fan_in = int(matrix[1:, n - 1].sum())
    base, extra = divmod(out_channels, fan_in)
    for v in range(1, n - 1):
        if matrix[v, n - 1]:
            channels[v] = base + (1 if extra > 0 else 0)
            extra -= 1 if extra > 0 else 0
    for v in range(n - 3, 0, -1):
        if not matrix[v, n - 1]:
            for dst in range(v + 1, n - 1):
                if matrix[v, dst]:
                    channels[v] = max(channels[v], channels[dst])
    return channels


class ConvBnRelu(nn.Sequential):
    """Conv(k×k, no bias) → BN → ReLU, NB101's ``conv_bn_relu`` (ReLU not in-place)."""

    def __init__(self, c_in: int, c_out: int, kernel: int) -> None:
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out, **_BN),
            nn.ReLU(inplace=False),
        )


def _vertex_op(name: str, channels: int) -> nn.Module:
    if name == "conv3x3-bn-relu":
        return ConvBnRelu(channels, channels, 3)
    if name == "conv1x1-bn-relu":
        return ConvBnRelu(channels, channels, 1)
    return nn.MaxPool2d(3, stride=1, padding=1)


class NB101Cell(nn.Module):
    """One NB101 module (cell) of a pruned ``matrix`` and ``ops``, ``in_channels`` → ``out_channels``."""

    def __init__(
        self, matrix: np.ndarray, ops: Sequence[str], in_channels: int, out_channels: int
    ) -> None:
        super().__init__()
        self.matrix = np.asarray(matrix)
        n = len(self.matrix)
        self.channels = vertex_channels(in_channels, out_channels, self.matrix)
        self.ops = nn.ModuleDict(
            {str(t): _vertex_op(ops[t], self.channels[t]) for t in range(1, n - 1)}
        )
        self.projections = nn.ModuleDict(
            {
                str(t): ConvBnRelu(in_channels, self.channels[t], 1)
                for t in range(1, n)
                if self.matrix[0, t]
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.matrix
        n = len(m)
        tensors = [x]
        concat: list[torch.Tensor] = []
        for t in range(1, n - 1):
            width = self.channels[t]
            add_in = [tensors[s][:, :width] for s in range(1, t) if m[s, t]]
            if m[0, t]:
                add_in.append(self.projections[str(t)](x))
            total = add_in[0]
            for extra in add_in[1:]:
                total = total + extra
            tensors.append(self.ops[str(t)](total))
            if m[t, n - 1]:
                concat.append(tensors[t])
        if not concat:
            return self.projections[str(n - 1)](x)
        out = concat[0] if len(concat) == 1 else torch.cat(concat, dim=1)
        if m[0, n - 1]:
            out = out + self.projections[str(n - 1)](x)
        return out


class NB101Network(nn.Module):
    """The NAS-Bench-101 network of one cell (stem 128 channels, 3 stacks × 3 cells by default)."""

    def __init__(
        self,
        arch: Any,
        *,
        num_classes: int = 10,
        stem_channels: int = 128,
        stacks: int = 3,
        cells_per_stack: int = 3,
    ) -> None:
        super().__init__()
        matrix, ops = _cell(arch)
        self.arch = _as_dict(matrix, ops)
        c = stem_channels
        layers: list[nn.Module] = [ConvBnRelu(3, c, 3)]
        c_in = c
        for stack in range(stacks):
            if stack > 0:
                layers.append(nn.MaxPool2d(2, stride=2))
                c *= 2
            for _ in range(cells_per_stack):
                layers.append(NB101Cell(matrix, ops, c_in, c))
                c_in = c
        self.layers = nn.Sequential(*layers)
        self.global_pooling = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.global_pooling(self.layers(x)).flatten(1))


@register_space("nb101")
class NB101(SearchSpace):
    """The NAS-Bench-101 cell space (423,624 unique cells), architectures as ``{"matrix", "ops"}`` dicts.

    Sampling draws a 7-vertex matrix (each upper-triangular entry 0/1 with probability ½) and 5 ops
    uniformly, and redraws until the pruned cell is valid: NB101's ``random_spec`` (and NASLib's), so
    uniform over valid 7-vertex specs before pruning. Pruning makes small cells frequent (4,000 draws:
    9 % prune to input→output, 0.25 % keep all 7 vertices), as in NASLib's 500-cell sample.

    Args:
        stem_channels: Width of the stem and the first stack (128 in NB101).
        stacks: Stacks of cells, separated by 2×2 max pooling and a doubling of the width (3).
        cells_per_stack: Cells per stack (3).

    Example:
        >>> import numpy as np
        >>> space = NB101()
        >>> arch = space.sample(np.random.default_rng(0))
        >>> space.decode(space.encode(arch)) == arch
        True
        >>> space.num_params({"matrix": [[0, 1], [0, 0]], "ops": ["input", "output"]})
        882570
    """

    name = "nb101"
    default_resolution = 32

    def __init__(
        self, *, stem_channels: int = 128, stacks: int = 3, cells_per_stack: int = 3
    ) -> None:
        for key, value in (
            ("stem_channels", stem_channels),
            ("stacks", stacks),
            ("cells_per_stack", cells_per_stack),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{key} must be a positive integer, got {value!r}")
        self.stem_channels = stem_channels
        self.stacks = stacks
        self.cells_per_stack = cells_per_stack

    def validate(self, arch: Any) -> dict[str, Any]:
        """Returns the pruned cell (a dict; a JSON string is parsed), or raises :class:`BadArchitecture`."""
        return validate_arch(arch)

    def encode(self, arch: Any) -> str:
        return json.dumps(self.validate(arch), sort_keys=True, separators=(",", ":"))

    def _random_raw(self, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
        matrix = np.triu(rng.integers(0, 2, size=(MAX_VERTICES, MAX_VERTICES)), 1)
        ops = ["input", *(OPS[i] for i in rng.integers(0, len(OPS), size=5)), "output"]
        return matrix, ops

    def sample(self, rng: np.random.Generator) -> dict[str, Any]:
        while True:
            matrix, ops = self._random_raw(rng)
            try:
                return validate_arch(_as_dict(matrix, ops))
            except BadArchitecture:
                continue

    @staticmethod
    def _padded(arch: Any) -> tuple[np.ndarray, list[str]]:
        """Returns the pruned cell padded to 7 vertices (isolated ``conv3x3-bn-relu`` before the output)."""
        values = [int(v) for v in _INT.findall(to_naslib_key(arch))]
        matrix = np.array(values[:49]).reshape(7, 7)
        return matrix, [NASLIB_OPS[v] for v in values[49:]]

    def mutate(self, arch: Any, rng: np.random.Generator, *, prob: float = 0.2) -> dict[str, Any]:
        """Returns a valid cell, different from ``arch``, with each edge bit and op re-drawn with ``prob``.

        The cell is padded to 7 vertices first, so mutation can grow it; draws repeat until the pruned
        result is valid and differs from ``arch``.
        """
        if not 0.0 < prob <= 1.0:
            raise ValueError(f"prob must be in (0, 1], got {prob}")
        parent = validate_arch(arch)
        matrix, ops = self._padded(parent)
        upper = list(zip(*np.triu_indices(MAX_VERTICES, 1)))
        while True:
            m = matrix.copy()
            o = list(ops)
            for i, j in upper:
                if rng.random() < prob:
                    m[i, j] = int(rng.integers(2))
            for k in range(1, MAX_VERTICES - 1):
                if rng.random() < prob:
                    o[k] = OPS[int(rng.integers(len(OPS)))]
            try:
                child = validate_arch(_as_dict(m, o))
            except BadArchitecture:
                continue
            if child != parent:
                return child

    def crossover(self, a: Any, b: Any, rng: np.random.Generator) -> dict[str, Any]:
        """Returns a valid cell taking each edge bit and op from ``a`` or ``b`` (both padded to 7 vertices).

        Draws repeat until the child is valid (at most 100 times; then one parent is returned).
        """
        ma, oa = self._padded(a)
        mb, ob = self._padded(b)
        for _ in range(100):
            pick = rng.random((MAX_VERTICES, MAX_VERTICES)) < 0.5
            m = np.where(pick, ma, mb)
            o = [oa[k] if rng.random() < 0.5 else ob[k] for k in range(MAX_VERTICES)]
            try:
                return validate_arch(_as_dict(m, o))
            except BadArchitecture:
                continue
        return validate_arch(a if rng.random() < 0.5 else b)

    def suggest(self, trial: Any, *, prefix: str = "") -> dict[str, Any]:
        """Returns the cell of 21 edge bits and 5 ops, pruned (Optuna).

        The parameters are the 21 entries of the 7×7 upper-triangular adjacency as 0/1 parameters
        ``edge_<from>_<to>`` (``edge_0_1`` … ``edge_5_6``, vertex 0 the input, 6 the output) and
        ``op_1`` … ``op_5`` over the three interior ops; the cell is pruned to its input→output paths
        (:meth:`validate`). A draw with no valid cell (the output unreachable, or more than 9 edges
        left after pruning) raises ``optuna.TrialPruned`` with the reason, also stored in
        ``trial.user_attrs["<prefix>prune_reason"]``.
        """
        n = MAX_VERTICES
        matrix = [[0] * n for _ in range(n)]
        for i in range(n):
            for j in range(i + 1, n):
                matrix[i][j] = trial.suggest_categorical(f"{prefix}edge_{i}_{j}", [0, 1])
        ops = [trial.suggest_categorical(f"{prefix}op_{k}", list(OPS)) for k in range(1, n - 1)]
        try:
            return self.validate({"matrix": matrix, "ops": ["input", *ops, "output"]})
        except BadArchitecture as exc:  # disconnected, or too many edges once pruned
            import optuna  # only a trial's caller gets here, and Optuna is what it runs

            reason = str(exc)
            trial.set_user_attr(f"{prefix}prune_reason", reason)
            raise optuna.TrialPruned(reason) from None

    def from_nni_sample(self, sample: Mapping[str, Any], *, label: str = "cell") -> dict[str, Any]:
        """Returns the pruned ``{"matrix", "ops"}`` cell of an NNI ``NasBench101`` hub-space sample.

        NNI's hub space labels one cell (shared by all 9 modules) ``cell/num_nodes`` (n, input and
        output included), ``cell/op{i}`` for the interior vertices 1..n-2 and ``cell/input{i}`` (the
        list of vertices feeding vertex i) for 1..n-1; it prunes the cell as NB101 does, keeping the
        vertex order, so the pruned cell is the same as :meth:`validate` gives. Other keys
        (``cell/final``, the pruned copy NNI writes while validating) are ignored.

        Raises:
            BadArchitecture: A key is missing, an op or input is out of range, or the cell is invalid
                (disconnected, or over NB101's limits after pruning).

        Example:
            >>> sample = {"cell/num_nodes": 4, "cell/op1": "conv3x3-bn-relu", "cell/op2": "maxpool3x3",
            ...           "cell/input1": [0], "cell/input2": [0, 1], "cell/input3": [2]}
            >>> NB101().from_nni_sample(sample)["matrix"]
            [[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
        """

        def get(key: str) -> Any:
            if f"{label}/{key}" not in sample:
                raise BadArchitecture(
                    f"NNI NasBench101 sample lacks {label}/{key!s}; got keys {sorted(sample)}"
                )
            return sample[f"{label}/{key}"]

        n = get("num_nodes")
        if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_VERTICES:
            raise BadArchitecture(
                f"{label}/num_nodes must be an integer in 2..{MAX_VERTICES}, got {n!r}"
            )
        ops = ["input"]
        for i in range(1, n - 1):
            op = get(f"op{i}")
            if op not in OPS:
                raise BadArchitecture(f"{label}/op{i} is {op!r}; NB101 ops are {', '.join(OPS)}")
            ops.append(op)
        ops.append("output")
        matrix = [[0] * n for _ in range(n)]
        for i in range(1, n):
            sources = get(f"input{i}")
            if isinstance(sources, int):
                sources = [sources]
            for src in sources:
                if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < i:
                    raise BadArchitecture(
                        f"{label}/input{i} lists {src!r}; vertex {i} reads only vertices 0..{i - 1}"
                    )
                matrix[src][i] = 1
        return validate_arch({"matrix": matrix, "ops": ops})

    def to_nni_sample(
        self, arch: Any, *, label: str = "cell", max_num_nodes: int = MAX_VERTICES
    ) -> dict[str, Any]:
        """Returns the NNI ``NasBench101`` sample of a cell (pruned first).

        ``SimplifiedModelSpace.from_model(NasBench101()).freeze(sample)`` (what an NNI experiment
        does) or ``NasBench101.frozen_factory(sample)()`` builds NNI's network of that cell;
        :meth:`from_nni_sample` inverts it. NNI's model space asks for every label even when the cell
        has fewer than ``max_num_nodes`` vertices: the unused ops are ``conv3x3-bn-relu`` and the
        unused inputs empty (NNI ignores both).

        Example:
            >>> arch = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]],
            ...         "ops": ["input", "conv1x1-bn-relu", "output"]}
            >>> sample = NB101().to_nni_sample(arch)
            >>> sample["cell/num_nodes"], sample["cell/op1"], sample["cell/input2"], sample["cell/input3"]
            (3, 'conv1x1-bn-relu', [0, 1], [])
            >>> NB101().from_nni_sample(sample) == arch
            True
        """
        cell = validate_arch(arch)
        matrix, ops = cell["matrix"], cell["ops"]
        n = len(ops)
        sample: dict[str, Any] = {f"{label}/num_nodes": n}
        for i in range(1, max(n, max_num_nodes) - 1):
            sample[f"{label}/op{i}"] = ops[i] if i < n - 1 else OPS[0]
        for i in range(1, max(n, max_num_nodes)):
            sample[f"{label}/input{i}"] = [s for s in range(i) if matrix[s][i]] if i < n else []
        return sample

    def build(
        self, arch: Any, *, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module:
        """Returns the NB101 network of ``arch`` (fully convolutional: any resolution ≥ 4 works)."""
        return NB101Network(
            arch,
            num_classes=num_classes,
            stem_channels=self.stem_channels,
            stacks=self.stacks,
            cells_per_stack=self.cells_per_stack,
        )
