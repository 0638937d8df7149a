"""Stage features (AZ-NAS): statistics of the feature maps at the ends of a network's stages, and a
Gaussian probe of each block's Jacobian, captured during the shared passes (``Needs.STAGE_FEATURES``).

Which outputs are the stages of an arbitrary ``nn.Module`` (the rule)
---------------------------------------------------------------------
*Units* are the modules one level below the model's plain containers, in execution order: the model's
children, where an ``nn.Sequential`` (or a subclass: timm's ``SequentialTuple``, torchvision's
``Conv2dNormActivation``), ``nn.ModuleList`` or ``nn.ModuleDict`` is replaced by its children,
recursively; a model with a single child is read through it. Each call of a unit is one entry (a unit
called twice is two). A unit's feature is its output (the first tensor of a tuple output) when it has
at least 3 dimensions: ``(N, C, H, W)`` for a CNN, ``(N, T, C)`` for a transformer. A unit is
*composite* when it has submodules (a block, a cell, a stage), a *leaf* otherwise (a convolution, norm,
activation, pooling). A unit output, or the stem input, that a later operation changed in place (its
version moved) is not a feature: those entries are skipped before the rule is applied.

1. Transformers: the longest run (at least 2) of consecutive composite units with the same 3-D output
   shape are the blocks (timm ``VisionTransformer.blocks``, the AutoFormer space's ``blocks``). They are
   split into ``min(4, n)`` consecutive groups of near-equal size (the first groups one block larger, as
   :func:`~lswag_plugin.engine.passes.split_sizes`); each group's last block output is a stage. The stem
   is the input of the first block (patch embedding, class token, position embedding).
2. CNNs otherwise: the body starts at the first composite unit with a 4-D output and the stem is that
   unit's input; when that input is the network's input (the unit is the stem itself, as NAS-Bench-101's
   first conv-BN-ReLU), the stem is its output and the body the units after it. A plain
   ``nn.Sequential`` of layers, without composite units: the stem is the first unit's output and the
   body is the units after it. Among the body's 4-D outputs, the last one before each change of the
   spatial size ``(H, W)``, and the last one, are the stages. Parameter-free units whose output is
   1 × 1 (global pooling) are not features.

Examples: NAS-Bench-201 (``stem`` conv+BN, 17 cells, BN-ReLU) has the stem's output and 3 stages (the
5th cell, 32×32; the 11th, 16×16; the final BN-ReLU, 8×8). timm's ResNet-18 has the max-pool output as
stem and ``layer1`` … ``layer4`` (their last blocks) as stages. NAS-Bench-101 has its stem
conv-BN-ReLU's output and the 3 stacks' last cells. A 12-block timm ViT has the first block's input as
stem and blocks 3, 6, 9 and 12 as stages.

The stages are chosen on the first forward of the shared passes (the shapes are known only then); the
later forwards must call the same units.

*Blocks* (for trainability): the composite units among the CNN body's feature outputs (every cell or
residual block; a network without composite units uses its stages), or every block of the transformer
run. A unit with a tuple output is read at its first tensor (PiT: the feature map, not the class token).

What is captured per feature
----------------------------
- The mean and scatter matrix (Σ (x − μ)(x − μ)ᵀ, float64) of its ``C``-dim feature vectors over the
  whole batch: ``M = N·H·W`` vectors for a map (every sample and position), ``M = N·T`` for tokens;
  minibatches are merged exactly (Chan et al.'s pairwise update).
- Per block ``b`` with input ``F_{b−1}`` (the previous block's output, or the stem): ``‖J_bᵀ v‖²`` and
  ``‖v‖²`` for a Gaussian probe ``v`` shaped like ``F_b``, ``J_b = ∂F_b/∂F_{b−1}``, by a backward
  through that block alone in the shared forward's graph (before the loss backward, with the other
  gradient hooks off), summed over the K minibatches. The probes have a generator of their own seeded
  by the scoring seed, so the global random state, and with it every other proxy, is unchanged.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = [
    "MAX_TOKEN_GROUPS",
    "BlockJacobian",
    "StageCapture",
    "StageFeature",
    "StageFeatures",
    "StageSelection",
    "UnitCall",
    "select_stages",
    "units_of",
]

#: Groups the blocks of a transformer are split into (each group's last block is a stage).
MAX_TOKEN_GROUPS = 4
_CONTAINERS = (nn.ModuleList, nn.ModuleDict)


def _is_container(module: nn.Module) -> bool:
    return isinstance(module, nn.Sequential) or type(module) in _CONTAINERS


def units_of(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Returns the units of ``model``: its children with plain containers replaced by their children.

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ReLU(), nn.Conv2d(4, 4, 3)))
        >>> [name for name, _ in units_of(net)]
        ['0', '1.0', '1.1']
    """
    prefix, root = "", model
    while True:
        children = list(root.named_children())
        if len(children) != 1 or _is_container(children[0][1]):
            break
        prefix, root = f"{prefix}{children[0][0]}.", children[0][1]

    units: list[tuple[str, nn.Module]] = []

    def walk(name: str, module: nn.Module) -> None:
        if _is_container(module):
            for child_name, child in module.named_children():
                walk(f"{name}.{child_name}", child)
        else:
            units.append((name, module))

    for name, child in root.named_children():
        walk(f"{prefix}{name}", child)
    return units


@dataclass(frozen=True)
class UnitCall:
    """What the rule reads of one unit call (shapes are per batch, ``None`` when not a tensor)."""

    name: str
    composite: bool
    has_params: bool
    input_shape: tuple[int, ...] | None
    output_shape: tuple[int, ...] | None
    input_changed: bool = False
    output_changed: bool = False
    reads_model_input: bool = False


@dataclass(frozen=True)
class StageSelection:
    """The chosen features: ``stem`` as ``(call index, "input" | "output")`` (or None), then stages."""

    stem: tuple[int, str] | None
    stages: tuple[int, ...]
    kind: str  # "cnn" or "tokens"
    blocks: tuple[int, ...] = ()


def _is_feature(call: UnitCall) -> bool:
    shape = call.output_shape
    if shape is None or len(shape) < 3 or call.output_changed:
        return False
    return not (len(shape) == 4 and shape[2] * shape[3] == 1 and not call.has_params)


def select_stages(calls: Sequence[UnitCall], *, groups: int = MAX_TOKEN_GROUPS) -> StageSelection:
    """Returns the stem and stages of a forward's unit calls, by the module's rule (see its docstring).

    Example:
        >>> c = lambda name, shape, comp=True: UnitCall(name, comp, True, shape, shape)
        >>> calls = [c("stem", (2, 8, 8, 8), False), c("b1", (2, 8, 8, 8)), c("b2", (2, 16, 4, 4))]
        >>> sel = select_stages(calls)
        >>> sel.stem, sel.stages
        ((1, 'input'), (1, 2))
    """
    feature = [_is_feature(c) for c in calls]
    # 1. Transformer blocks: the longest run of composite units with one 3-D output shape.
    best: tuple[int, int] = (0, 0)
    i = 0
    while i < len(calls):
        j = i
        shape = calls[i].output_shape
        while (
            j < len(calls)
            and feature[j]
            and calls[j].composite
            and shape is not None
            and len(shape) == 3
            and calls[j].output_shape == shape
        ):
            j += 1
        if j - i > best[1] - best[0]:
            best = (i, j)
        i = max(j, i + 1)
    start, end = best
    if end - start >= 2:
        n = end - start
        k = min(groups, n)
        base, extra = divmod(n, k)
        stages, last = [], start - 1
        for g in range(k):
            last += base + (1 if g < extra else 0)
            stages.append(last)
        first = calls[start]
        usable = first.input_shape is not None and not first.reads_model_input
        stem = (start, "input") if usable and not first.input_changed else None
        return StageSelection(
            stem=stem, stages=tuple(stages), kind="tokens", blocks=tuple(range(start, end))
        )
    # 2. CNN: stages at the changes of spatial size, after the stem.
    maps = [i for i, c in enumerate(calls) if feature[i] and len(c.output_shape or ()) == 4]
    body = [i for i in maps if calls[i].composite]
    if body and calls[body[0]].reads_model_input:
        stem = (body[0], "output")
        candidates = [i for i in maps if i > body[0]]
    elif body:
        first = calls[body[0]]
        usable = first.input_shape is not None and len(first.input_shape) == 4
        stem = (body[0], "input") if usable and not first.input_changed else None
        candidates = [i for i in maps if i >= body[0]]
    elif maps:
        stem = (maps[0], "output")
        candidates = maps[1:]
    else:
        return StageSelection(stem=None, stages=(), kind="cnn")
    stages = [
        i
        for n, i in enumerate(candidates)
        if n + 1 == len(candidates)
        or calls[candidates[n + 1]].output_shape[2:] != calls[i].output_shape[2:]  # type: ignore[index]
    ]
    blocks = [i for i in candidates if calls[i].composite] or stages
    return StageSelection(stem=stem, stages=tuple(stages), kind="cnn", blocks=tuple(blocks))


@dataclass
class StageFeature:
    """Statistics of one stage feature over the batch (see the module docstring).

    Attributes:
        name: Where it was read, e.g. ``"cells.4"`` or ``"input of cells.0"`` for a stem.
        shape: One sample's feature shape, ``(C, H, W)`` or ``(T, C)``.
        count: Feature vectors seen (``N·H·W`` or ``N·T``).
        mean: Their mean, ``(C,)`` float64.
        scatter: Σ (x − μ)(x − μ)ᵀ, ``(C, C)`` float64.
    """

    name: str
    shape: tuple[int, ...]
    count: int = 0
    mean: torch.Tensor | None = None
    scatter: torch.Tensor | None = None
    _eigenvalues: torch.Tensor | None = field(default=None, repr=False, compare=False)

    @property
    def channels(self) -> int:
        """Dimension of a feature vector (C)."""
        return int(self.shape[0] if len(self.shape) == 3 else self.shape[-1])

    def covariance(self) -> torch.Tensor:
        """Returns the feature vectors' covariance, ``scatter / count`` (``(C, C)``, float64)."""
        if self.scatter is None or self.count == 0:
            raise RuntimeError(f"no features were captured at {self.name}")
        return self.scatter / self.count

    def covariance_eigenvalues(self) -> torch.Tensor:
        """Returns the covariance's eigenvalues, ascending, negatives of round-off set to 0 (cached)."""
        if self._eigenvalues is None:
            self._eigenvalues = torch.linalg.eigvalsh(self.covariance()).clamp_(min=0.0)
        return self._eigenvalues

    def add(self, other: StageFeature) -> None:
        """Merges ``other``'s statistics into these (exact pooled mean and scatter, summed norms)."""
        if other.count == 0:
            return
        if self.count == 0 or self.mean is None or self.scatter is None:
            self.count, self.mean, self.scatter = other.count, other.mean, other.scatter
            return
        assert other.mean is not None and other.scatter is not None
        n = self.count + other.count
        delta = other.mean - self.mean
        self.scatter = (
            self.scatter
            + other.scatter
            + torch.outer(delta, delta) * (self.count * other.count / n)
        )
        self.mean = self.mean + delta * (other.count / n)
        self.count = n
        self._eigenvalues = None


@dataclass
class BlockJacobian:
    """The Gaussian probe of one block's Jacobian ``J = ∂F_b/∂F_a`` (``a`` the previous block or stem).

    Attributes:
        name: ``"<a> -> <b>"``.
        pulled_sq: Σ over minibatches of ``‖Jᵀ v‖²``, ``v ~ N(0, I)`` shaped like ``F_b``; 0 when
            ``F_b`` does not depend on ``F_a``; NaN when ``F_a`` has no gradient.
        probe_sq: Σ over minibatches of ``‖v‖²``.
    """

    name: str
    pulled_sq: float = 0.0
    probe_sq: float = 0.0

    @property
    def sigma(self) -> float:
        """``‖Jᵀ v‖ / ‖v‖``: the probe's estimate of the Jacobian's scale (NaN without a gradient)."""
        return (self.pulled_sq / self.probe_sq) ** 0.5 if self.probe_sq > 0 else float("nan")


@dataclass
class StageFeatures:
    """What ``Needs.STAGE_FEATURES`` captured: the stem (if found) and the stages, in order, and the
    probes of the blocks' Jacobians.

    Attributes:
        features: The stem first when ``has_stem``, then the stages.
        has_stem: Whether ``features[0]`` is the stem.
        kind: ``"cnn"`` (spatial stages) or ``"tokens"`` (block groups).
        jacobians: One :class:`BlockJacobian` per block (the stem → the first block, then each block
            from the one before it).
        problem: Why no usable stages were captured (the AZ proxies raise it), else None.
    """

    features: list[StageFeature]
    has_stem: bool
    kind: str
    jacobians: list[BlockJacobian] = field(default_factory=list)
    problem: str | None = None

    @property
    def stages(self) -> list[StageFeature]:
        """The stage features (without the stem)."""
        return self.features[1:] if self.has_stem else list(self.features)


def _first_tensor(value: Any) -> torch.Tensor | None:
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, tuple | list) and value:
        return _first_tensor(value[0])
    return None


def _feature_matrix(t: torch.Tensor) -> torch.Tensor:
    """Returns the ``(M, C)`` float32 feature vectors of an ``(n, C, H, W)`` or ``(n, T, C)`` tensor."""
    t = t.detach().float()
    if t.dim() == 4:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
    return t.reshape(-1, t.shape[-1])


def _statistics(name: str, t: torch.Tensor) -> StageFeature:
    x = _feature_matrix(t)
    mean = x.mean(0, dtype=torch.float64)
    centred = x - mean.to(x.dtype)
    scatter = (centred.T @ centred).double()
    return StageFeature(name, tuple(t.shape[1:]), int(x.shape[0]), mean, scatter)


@dataclass
class _Call:
    name: str
    module: nn.Module
    input: torch.Tensor | None
    input_version: int
    output: torch.Tensor | None = None
    output_version: int = 0

    def describe(self, model_input: torch.Tensor | None = None) -> UnitCall:
        def changed(t: torch.Tensor | None, version: int) -> bool:
            return t is not None and t._version != version

        return UnitCall(
            name=self.name,
            composite=next(self.module.children(), None) is not None,
            has_params=next(self.module.parameters(), None) is not None,
            input_shape=tuple(self.input.shape) if self.input is not None else None,
            output_shape=tuple(self.output.shape) if self.output is not None else None,
            input_changed=changed(self.input, self.input_version),
            output_changed=changed(self.output, self.output_version),
            reads_model_input=self.input is not None and self.input is model_input,
        )


@dataclass
class StageCapture:
    """Hooks on the units; after each forward, the stage statistics and the blocks' Jacobian probes.

    Used by the shared passes: :meth:`start_forward` before each forward (``first_piece`` when a
    minibatch attempt starts: what a failed attempt gathered is dropped), :meth:`after_forward` after
    it (before the loss backward; the caller switches other gradient hooks off meanwhile), :meth:`commit`
    when the minibatch succeeded, :meth:`result` at the end. ``seed`` seeds the Gaussian probes (a
    generator of their own: the global random state is not touched).
    """

    model: nn.Module
    seed: int = 0
    _units: list[tuple[str, nn.Module]] = field(default_factory=list)
    _calls: list[_Call] = field(default_factory=list)
    _open: dict[int, list[_Call]] = field(default_factory=dict)
    _selection: StageSelection | None = None
    _names: list[str] = field(default_factory=list)
    _block_names: list[str] = field(default_factory=list)
    _call_names: list[str] = field(default_factory=list)
    _totals: list[StageFeature] = field(default_factory=list)
    _pending: list[StageFeature] = field(default_factory=list)
    _jacobians: list[BlockJacobian] = field(default_factory=list)
    _pending_jacobians: list[BlockJacobian] = field(default_factory=list)
    _generator: torch.Generator | None = None
    _model_input: torch.Tensor | None = None
    problem: str | None = None

    def __post_init__(self) -> None:
        self._units = units_of(self.model)

    def _pre_hook(self, name: str, module: nn.Module, args: tuple) -> None:
        t = _first_tensor(args)
        call = _Call(name, module, t, t._version if t is not None else 0)
        self._calls.append(call)
        self._open.setdefault(id(module), []).append(call)

    def _hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        stack = self._open.get(id(module))
        if not stack:
            return
        call = stack.pop()
        t = _first_tensor(output)
        call.output, call.output_version = t, (t._version if t is not None else 0)

    @contextlib.contextmanager
    def attached(self) -> Iterator[StageCapture]:
        """Registers the unit hooks for the duration of the block and removes every one."""
        handles = []
        try:
            handles.append(
                self.model.register_forward_pre_hook(
                    lambda m, a: setattr(self, "_model_input", _first_tensor(a))
                )
            )
            for name, module in self._units:
                handles.append(
                    module.register_forward_pre_hook(
                        lambda m, a, name=name: self._pre_hook(name, m, a)
                    )
                )
                handles.append(module.register_forward_hook(self._hook))
            yield self
        finally:
            for h in handles:
                h.remove()
            self._calls, self._open, self._model_input = [], {}, None

    def start_forward(self, *, first_piece: bool) -> None:
        """Forgets the previous forward's unit calls (and a failed attempt's statistics)."""
        self._calls, self._open = [], {}
        if first_piece:
            self._pending, self._pending_jacobians = [], []

    def _select(self) -> None:
        """Chooses the stem, stages and blocks on the first forward (the shapes are known then)."""
        sel = self._selection = select_stages([c.describe(self._model_input) for c in self._calls])
        self._call_names = [c.name for c in self._calls]
        stem: list[str] = []
        if sel.stem is not None:
            index, where = sel.stem
            name = self._calls[index].name
            stem = [f"input of {name}" if where == "input" else name]
        self._names = stem + [self._calls[i].name for i in sel.stages]
        self._block_names = stem + [self._calls[i].name for i in sel.blocks]
        if not sel.stages:
            self.problem = (
                f"no stages found in {type(self.model).__name__}: AZ-NAS reads feature maps "
                "(N, C, H, W) or token blocks (N, T, C) of its submodules (see "
                "lswag_plugin.engine.stages for the rule)"
            )

    def _picked(self, indices: Sequence[int], names: Sequence[str]) -> list[torch.Tensor]:
        """This forward's tensors at the stem and ``indices`` (empty, with :attr:`problem`, if one is
        missing or was changed in place)."""
        sel = self._selection
        assert sel is not None
        picked: list[tuple[torch.Tensor | None, int]] = []
        if sel.stem is not None:
            index, where = sel.stem
            call = self._calls[index]
            picked.append(
                (call.input, call.input_version)
                if where == "input"
                else (call.output, call.output_version)
            )
        picked += [(self._calls[i].output, self._calls[i].output_version) for i in indices]
        for name, (t, version) in zip(names, picked):
            if t is None or t._version != version:
                self.problem = (
                    f"{name} gave no tensor, or one a later operation changed in place, in a later "
                    "minibatch"
                )
                return []
        return [t for t, _ in picked]  # type: ignore[misc]

    def after_forward(self) -> None:
        """Gathers this forward's stage statistics and probes each block's Jacobian."""
        if self._selection is None:
            self._select()
        elif [c.name for c in self._calls] != self._call_names:
            self.problem = "the model called different submodules in different minibatches"
        if self.problem is not None:
            return
        sel = self._selection
        assert sel is not None
        tensors = self._picked(sel.stages, self._names)
        blocks = self._picked(sel.blocks, self._block_names)
        if not tensors:
            return
        stats = [_statistics(name, t) for name, t in zip(self._names, tensors)]
        if not self._pending:
            self._pending = stats
        else:
            for mine, new in zip(self._pending, stats):
                mine.add(new)
        probes = self._probe(blocks)
        if not self._pending_jacobians:
            self._pending_jacobians = probes
        else:
            for mine, new in zip(self._pending_jacobians, probes):
                mine.pulled_sq += new.pulled_sq
                mine.probe_sq += new.probe_sq

    def _probe(self, blocks: list[torch.Tensor]) -> list[BlockJacobian]:
        """``‖Jᵀ v‖²`` and ``‖v‖²`` for each consecutive pair of block features, ``v ~ N(0, I)``."""
        out = []
        for (a, b), (name_a, name_b) in zip(
            itertools.pairwise(blocks), itertools.pairwise(self._block_names)
        ):
            probe = BlockJacobian(f"{name_a} -> {name_b}")
            if not (a.requires_grad and b.requires_grad):
                probe.pulled_sq = float("nan")
                out.append(probe)
                continue
            if self._generator is None or self._generator.device != b.device:
                self._generator = torch.Generator(device=b.device).manual_seed(self.seed)
            v = torch.randn(b.shape, generator=self._generator, device=b.device, dtype=b.dtype)
            (g,) = torch.autograd.grad(b, a, v, retain_graph=True, allow_unused=True)
            probe.pulled_sq = float(g.detach().double().pow(2).sum()) if g is not None else 0.0
            probe.probe_sq = float(v.double().pow(2).sum())
            out.append(probe)
        return out

    def commit(self) -> None:
        """Adds the minibatch that just succeeded to the totals."""
        if not self._totals:
            self._totals = self._pending
        else:
            for total, new in zip(self._totals, self._pending):
                total.add(new)
        if not self._jacobians:
            self._jacobians = self._pending_jacobians
        else:
            for total, new in zip(self._jacobians, self._pending_jacobians):
                total.pulled_sq += new.pulled_sq
                total.probe_sq += new.probe_sq
        self._pending, self._pending_jacobians = [], []

    def result(self) -> StageFeatures:
        """Returns the stage features of the whole batch."""
        sel = self._selection
        ok = self.problem is None
        return StageFeatures(
            features=list(self._totals) if ok else [],
            has_stem=bool(sel is not None and sel.stem is not None),
            kind=sel.kind if sel is not None else "cnn",
            jacobians=list(self._jacobians) if ok else [],
            problem=self.problem,
        )
