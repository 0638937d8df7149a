"""AZ-NAS's own pass: a Gaussian batch through a Kaiming-initialised private copy, read at every block.

The authors of AZ-NAS (Lee & Ham, CVPR 2024) score a network without data and on an initialisation of
their own; this capture reproduces that set-up as a pass of its own, after the shared passes, so no
other proxy's value changes (its random draws come from a generator of its own, and the global random
state is restored afterwards):

1. **Initialisation**: a private copy of the network, every Conv/Linear weight re-drawn Kaiming-normal
   (fan-in, ReLU gain) and its bias set to 0, every normalisation layer's weight to 1 and bias to 0;
   batch norm in train mode (batch statistics). Other parameters (a ViT's class token and position
   embedding) keep the network's own initialisation.
2. **Input**: a batch of N(0, 1) images shaped like the scoring batch (its size and resolution).
3. **Features**: the stem's output and the output of every block, in order
   (:func:`~lswag_plugin.engine.structure.select_blocks`: each cell, reduction block, residual block
   or transformer block; NAS-Bench-201 has 1 + 17). For each, the eigenvalues of the ``C × C``
   covariance of its centred ``C``-vectors over every sample and position (``N·H·W`` for maps, ``N·T``
   tokens).
4. **Block probes**: for each consecutive pair ``F_{i−1} → F_i``, from the last to the first, a
   Rademacher (±1) tensor ``v`` shaped like ``F_i`` is pulled back to ``F_{i−1}`` (``u = Jᵀv``, by
   autograd through that block alone). ``u == v`` exactly means an identity block. If the spatial size
   shrank by an integer stride ``s``, ``u`` is pixel-unshuffled by ``s`` so positions match. ``M =
   uᵀv / P`` (``P`` positions) and its largest singular value ``σ`` are kept.
5. **FLOPs** of the forward, per sample.

The proxies of :mod:`lswag_plugin.proxies.az_nas` read what it publishes (``ctx.data_free_blocks``).
"""

from __future__ import annotations

import contextlib
import itertools
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from torch import nn

from lswag_plugin.engine.captures._base import Capture, capture_for
from lswag_plugin.engine.clone import private_copy
from lswag_plugin.engine.modules import is_weight_layer
from lswag_plugin.engine.registry import Needs
from lswag_plugin.engine.structure import UnitRecorder, select_blocks

__all__ = [
    "BlockFeatures",
    "BlockProbe",
    "DataFreeBlocksCapture",
    "block_features",
    "kaiming_reinit",
]

DATA_FREE_BLOCKS = Needs.define(
    "DATA_FREE_BLOCKS",
    "AZ-NAS's own pass: a Gaussian batch through a Kaiming-normal re-initialised private copy; the "
    "covariance spectra of the stem and every block output, Rademacher probes of each block's "
    "Jacobian, and the forward's FLOPs",
)
_NORMS = (nn.modules.batchnorm._NormBase, nn.GroupNorm, nn.LayerNorm)


def kaiming_reinit(model: nn.Module, generator: torch.Generator) -> None:
    """Re-draws ``model``'s weights in place as AZ-NAS's authors initialise them.

    Every Conv/Linear weight Kaiming-normal (fan-in, ReLU gain) from ``generator``, in module order,
    its bias 0; every batch/group/layer norm's weight 1 and bias 0. Other parameters are unchanged.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Linear(400, 8), nn.BatchNorm1d(8))
        >>> kaiming_reinit(net, torch.Generator().manual_seed(0))
        >>> round(float(net[0].weight.std()), 2), float(net[0].bias.abs().sum()), float(net[1].weight.sum())
        (0.07, 0.0, 8.0)
    """
    with torch.no_grad():
        for module in model.modules():
            if is_weight_layer(module):
                nn.init.kaiming_normal_(
                    module.weight, mode="fan_in", nonlinearity="relu", generator=generator
                )
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()
            elif isinstance(module, _NORMS):
                if getattr(module, "weight", None) is not None:
                    module.weight.fill_(1.0)
                if getattr(module, "bias", None) is not None:
                    module.bias.zero_()


@dataclass
class BlockProbe:
    """The Rademacher probe of one block's Jacobian ``J = ∂F_i/∂F_{i−1}``.

    Attributes:
        name: ``"<input> -> <output>"``.
        sigma: The largest singular value of ``M = uᵀv / P`` (0 when ``F_i`` ignores ``F_{i−1}``;
            NaN when ``F_{i−1}`` has no gradient or the positions cannot be matched).
        identity: Whether ``u == v`` exactly (the block is an identity).
    """

    name: str
    sigma: float
    identity: bool = False


@dataclass
class BlockFeatures:
    """What the data-free pass read: the stem and blocks' spectra, the block probes, the FLOPs.

    Attributes:
        names: Where each feature was read, the stem first (e.g. ``"input of cells.0"``).
        eigenvalues: Per feature, the covariance's eigenvalues (ascending, float64, negatives of
            round-off set to 0).
        probes: One :class:`BlockProbe` per consecutive pair of features, in forward order.
        flops: FLOPs of the forward of one sample.
        problem: Why no usable blocks were found (the AZ proxies raise it), else None.
    """

    names: list[str] = field(default_factory=list)
    eigenvalues: list[torch.Tensor] = field(default_factory=list)
    probes: list[BlockProbe] = field(default_factory=list)
    flops: float = float("nan")
    problem: str | None = None


def _vectors(t: torch.Tensor) -> torch.Tensor:
    """Returns the ``(positions, C)`` feature vectors of an ``(N, C, H, W)`` or ``(N, T, C)`` tensor."""
    if t.dim() == 4:
        return t.permute(0, 2, 3, 1).reshape(-1, t.shape[1])
    return t.reshape(-1, t.shape[-1])


def _spectrum(t: torch.Tensor) -> torch.Tensor:
    """Returns the eigenvalues of the covariance of ``t``'s centred feature vectors (float64)."""
    x = _vectors(t.detach()).double()
    x = x - x.mean(0)
    return torch.linalg.eigvalsh(x.T @ x / x.shape[0]).clamp_(min=0.0)


def _positions_matched(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor | None:
    """Returns ``u`` with the positions of ``v`` (pixel-unshuffled by an integer stride), or None."""
    if u.dim() != v.dim() or u.shape[0] != v.shape[0]:
        return None
    if u.dim() == 3:
        return u if u.shape[1] == v.shape[1] else None
    if u.shape[2:] == v.shape[2:]:
        return u
    stride = u.shape[2] // v.shape[2]
    if stride > 1 and u.shape[2:] == (v.shape[2] * stride, v.shape[3] * stride):
        return F.pixel_unshuffle(u, stride)
    return None


def _probe(name: str, a: torch.Tensor, b: torch.Tensor, generator: torch.Generator) -> BlockProbe:
    """Pulls a Rademacher ``v`` shaped like ``b`` back to ``a`` and returns σ_max of ``uᵀv / P``."""
    v = torch.randint(0, 2, b.shape, generator=generator, device=b.device).to(b.dtype) * 2 - 1
    if not (a.requires_grad and b.requires_grad):
        return BlockProbe(name, float("nan"))
    (u,) = torch.autograd.grad(b, a, v, retain_graph=True, allow_unused=True)
    if u is None:
        return BlockProbe(name, 0.0)
    if u.shape == v.shape and torch.equal(u, v):
        return BlockProbe(name, 1.0, identity=True)
    matched = _positions_matched(u, v)
    if matched is None:
        return BlockProbe(name, float("nan"))
    uu, vv = _vectors(matched.detach()).double(), _vectors(v).double()
    m = uu.T @ vv / uu.shape[0]
    return BlockProbe(name, float(torch.linalg.matrix_norm(m, ord=2)))


def block_features(
    model: nn.Module,
    inputs: torch.Tensor,
    generator: torch.Generator,
    *,
    autocast: contextlib.AbstractContextManager[Any] | None = None,
) -> BlockFeatures:
    """Returns the spectra, probes and FLOPs of ``model`` (already re-initialised) on ``inputs``.

    ``generator`` draws the probes. The model runs in train mode with gradients; nothing of it is kept.
    """
    from torch.utils.flop_counter import FlopCounterMode

    recorder = UnitRecorder(model)
    with contextlib.ExitStack() as stack, torch.enable_grad():
        recorder.attach(stack)
        counter = FlopCounterMode(display=False)
        with counter, autocast or contextlib.nullcontext():
            model(inputs)
        flops = counter.get_total_flops() / inputs.shape[0]
        calls = recorder.calls
        selection = select_blocks(recorder.describe())
        if selection.stem is None or not selection.blocks:
            return BlockFeatures(
                flops=flops,
                problem=f"no stem and blocks found in {type(model).__name__} (AZ-NAS reads feature "
                "maps (N, C, H, W) or token blocks (N, T, C) of its submodules; see "
                "lswag_plugin.engine.structure for the rule)",
            )
        index, where = selection.stem
        stem_name = calls[index].name
        names = [f"input of {stem_name}" if where == "input" else stem_name]
        names += [calls[i].name for i in selection.blocks]
        picked = recorder.tensors(selection, selection.blocks)
        if any(t is None or t._version != version for t, version in picked):
            return BlockFeatures(
                flops=flops, problem="a block output was changed in place by a later operation"
            )
        tensors: list[torch.Tensor] = [t for t, _ in picked]  # type: ignore[misc]
        eigenvalues = [_spectrum(t) for t in tensors]
        pairs = list(zip(itertools.pairwise(tensors), itertools.pairwise(names)))
        probes = [_probe(f"{na} -> {nb}", a, b, generator) for (a, b), (na, nb) in reversed(pairs)]
    return BlockFeatures(names, eigenvalues, probes[::-1], flops)


@capture_for(DATA_FREE_BLOCKS)
class DataFreeBlocksCapture(Capture):
    """AZ-NAS's data-free pass (see the module docstring), run once after the shared passes."""

    shared: ClassVar[bool] = False
    publishes: ClassVar[dict[str, str]] = {
        "data_free_blocks": "BlockFeatures: the stem and block spectra, block probes and FLOPs of "
        "AZ-NAS's data-free pass",
    }

    @classmethod
    def passes(cls, minibatches: int) -> list[str]:
        return ["data-free forward + block probes (Gaussian input, Kaiming init)"]

    def publish(self, ctx: Any) -> None:
        device = ctx.device
        devices = [device] if device.type == "cuda" else []
        generator = torch.Generator(device=device).manual_seed(ctx.seed)
        with torch.random.fork_rng(devices=devices):  # dropout draws, if any, leave no trace
            model = private_copy(ctx.model, device)  # train mode: batch norm on batch statistics
            kaiming_reinit(model, generator)
            inputs = torch.randn(
                ctx.inputs.shape, generator=generator, device=device, dtype=ctx.inputs.dtype
            ).requires_grad_(
                True
            )  # every feature carries a gradient, even after parameter-free units
            ctx.captured["data_free_blocks"] = block_features(
                model, inputs, generator, autocast=ctx.autocast()
            )
