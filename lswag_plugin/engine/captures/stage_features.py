"""Stage features (AZ-NAS, data of the shared passes): statistics of the stem and stage feature maps
and a Gaussian probe of each block's Jacobian, gathered during the shared passes.

Where the stem, stages and blocks are is the rule of :mod:`lswag_plugin.engine.structure`, applied to
the unit calls of the first forward (the later forwards must call the same units).

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch

from lswag_plugin.engine.captures._base import Capture, Piece, Run, capture_for
from lswag_plugin.engine.registry import Needs
from lswag_plugin.engine.structure import StageSelection, UnitRecorder, select_stages

__all__ = ["BlockJacobian", "StageCapture", "StageFeature", "StageFeatures", "feature_statistics"]

STAGE_FEATURES = Needs.define(
    "STAGE_FEATURES",
    "per stage of the network (stem, then each change of resolution or block group), the covariance "
    "of its features over the batch, and a Gaussian probe of each block's Jacobian (AZ-NAS)",
)


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


def _feature_matrix(t: torch.Tensor) -> torch.Tensor:
    """Returns the ``(M, C)`` float32 feature vectors of an ``(n, C, H, W)`` or ``(n, T, C)`` tensor."""
    t = t.detach().float()
    if t.dim() == 4:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
    return t.reshape(-1, t.shape[-1])


def feature_statistics(name: str, t: torch.Tensor) -> StageFeature:
    """Returns the statistics (count, mean, scatter) of the feature vectors of ``t`` (one batch)."""
    x = _feature_matrix(t)
    mean = x.mean(0, dtype=torch.float64)
    centred = x - mean.to(x.dtype)
    scatter = (centred.T @ centred).double()
    return StageFeature(name, tuple(t.shape[1:]), int(x.shape[0]), mean, scatter)


@capture_for(STAGE_FEATURES)
class StageCapture(Capture):
    """Hooks on the units; after each forward, the stage statistics and the blocks' Jacobian probes.

    The stem, stages and blocks are chosen on the first forward (:func:`select_stages`); what a failed
    (out-of-memory) attempt gathered is dropped when the minibatch is retried.
    """

    backward: ClassVar[bool] = True
    publishes: ClassVar[dict[str, str]] = {
        "stages": "StageFeatures: statistics of the stem and stage features and the block probes",
    }

    def __init__(self, run: Run) -> None:
        super().__init__(run)
        self.recorder = UnitRecorder(run.ctx.model)
        self.problem: str | None = None
        self._selection: StageSelection | None = None
        self._names: list[str] = []
        self._block_names: list[str] = []
        self._call_names: list[str] = []
        self._totals: list[StageFeature] = []
        self._pending: list[StageFeature] = []
        self._jacobians: list[BlockJacobian] = []
        self._pending_jacobians: list[BlockJacobian] = []
        self._generator: torch.Generator | None = None

    def attach(self, stack: contextlib.ExitStack) -> None:
        self.recorder.attach(stack)

    def begin_minibatch(self, minibatch: int, start: int, size: int) -> None:
        self._pending, self._pending_jacobians = [], []

    def start(self, piece: Piece) -> None:
        self.recorder.reset()

    def _select(self) -> None:
        """Chooses the stem, stages and blocks on the first forward (the shapes are known then)."""
        calls = self.recorder.calls
        sel = self._selection = select_stages(self.recorder.describe())
        self._call_names = self.recorder.names()
        stem: list[str] = []
        if sel.stem is not None:
            index, where = sel.stem
            name = calls[index].name
            stem = [f"input of {name}" if where == "input" else name]
        self._names = stem + [calls[i].name for i in sel.stages]
        self._block_names = stem + [calls[i].name for i in sel.blocks]
        if not sel.stages:
            self.problem = (
                f"no stages found in {type(self.ctx.model).__name__}: AZ-NAS reads feature maps "
                "(N, C, H, W) or token blocks (N, T, C) of its submodules (see "
                "lswag_plugin.engine.structure for the rule)"
            )

    def _picked(self, indices: Sequence[int], names: Sequence[str]) -> list[torch.Tensor]:
        """This forward's tensors at the stem and ``indices`` (empty, with :attr:`problem`, if one is
        missing or was changed in place)."""
        assert self._selection is not None
        picked = self.recorder.tensors(self._selection, indices)
        for name, (t, version) in zip(names, picked):
            if t is None or t._version != version:
                self.problem = (
                    f"{name} gave no tensor, or one a later operation changed in place, in a later "
                    "minibatch"
                )
                return []
        return [t for t, _ in picked]  # type: ignore[misc]

    def after_forward(self, piece: Piece, output: torch.Tensor) -> None:
        """Gathers this forward's stage statistics and probes each block's Jacobian."""
        if self._selection is None:
            self._select()
        elif self.recorder.names() != self._call_names:
            self.problem = "the model called different submodules in different minibatches"
        if self.problem is not None:
            return
        sel = self._selection
        assert sel is not None
        tensors = self._picked(sel.stages, self._names)
        blocks = self._picked(sel.blocks, self._block_names)
        if not tensors:
            return
        stats = [feature_statistics(name, t) for name, t in zip(self._names, tensors)]
        if not self._pending:
            self._pending = stats
        else:
            for mine, new in zip(self._pending, stats):
                mine.add(new)
        with self.run.own_backward():  # the probes are not a backward of the loss
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
                self._generator = torch.Generator(device=b.device).manual_seed(self.ctx.seed)
            v = torch.randn(b.shape, generator=self._generator, device=b.device, dtype=b.dtype)
            (g,) = torch.autograd.grad(b, a, v, retain_graph=True, allow_unused=True)
            probe.pulled_sq = float(g.detach().double().pow(2).sum()) if g is not None else 0.0
            probe.probe_sq = float(v.double().pow(2).sum())
            out.append(probe)
        return out

    def commit(self, minibatch: int) -> None:
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

    def publish(self, ctx: Any) -> None:
        sel = self._selection
        ok = self.problem is None
        ctx.captured["stages"] = StageFeatures(
            features=list(self._totals) if ok else [],
            has_stem=bool(sel is not None and sel.stem is not None),
            kind=sel.kind if sel is not None else "cnn",
            jacobians=list(self._jacobians) if ok else [],
            problem=self.problem,
        )
