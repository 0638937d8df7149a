"""The structure of an arbitrary ``nn.Module``: its stem and its blocks, read off one forward.

AZ-NAS reads feature maps at the stem and at the output of every block. This module holds the rule
that finds them (:func:`select_blocks`, from the unit calls a
:class:`UnitRecorder` saw in a forward); the captures that read them are in
:mod:`lswag_plugin.engine.captures`.

The rule
--------
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
   shape are the blocks (timm ``VisionTransformer.blocks``, the AutoFormer space's ``blocks``). The stem
   is the input of the first block (patch embedding, class token, position embedding).
2. CNNs otherwise: the body starts at the first composite unit with a 4-D output and the stem is that
   unit's input; when that input is the network's input (the unit is the stem itself, as NAS-Bench-101's
   first conv-BN-ReLU), the stem is its output and the body the units after it. The blocks are the
   composite units among the body's 4-D outputs (every cell, reduction or residual block). A plain
   ``nn.Sequential`` of layers, without composite units: the stem is the first unit's output, and the
   blocks are the last 4-D output before each change of the spatial size ``(H, W)``, and the last one.
   Parameter-free units whose output is 1 × 1 (global pooling) are not features.

Examples: NAS-Bench-201 (``stem`` conv+BN, 17 cells and reduction blocks, BN-ReLU) has the stem's
output and 17 blocks. timm's ResNet-18 has the max-pool output as stem and its 8 residual blocks.
NAS-Bench-101 has its stem conv-BN-ReLU's output and its 9 cells. A 12-block timm ViT has the first
block's input as stem and its 12 blocks. A unit with a tuple output is read at its first tensor (PiT:
the feature map, not the class token).

The blocks are chosen on the first forward (the shapes are known only then). timm's ``feature_info``
is not read: it lists the ends of stages (ResNet's ``layer1`` … ``layer4``), not the blocks.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

__all__ = [
    "Blocks",
    "UnitCall",
    "UnitRecorder",
    "first_tensor",
    "select_blocks",
    "units_of",
]
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
class Blocks:
    """The stem (``(call index, "input" | "output")``, or None) and the blocks (call indices) found."""

    stem: tuple[int, str] | None
    blocks: tuple[int, ...]
    kind: str  # "cnn" or "tokens"


def _is_feature(call: UnitCall) -> bool:
    shape = call.output_shape
    if shape is None or len(shape) < 3 or call.output_changed:
        return False
    return not (len(shape) == 4 and shape[2] * shape[3] == 1 and not call.has_params)


def _token_run(calls: Sequence[UnitCall], feature: list[bool]) -> tuple[int, int]:
    """The longest run of consecutive composite units with one 3-D output shape: ``(start, end)``."""
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
    return best


def select_blocks(calls: Sequence[UnitCall]) -> Blocks:
    """Returns the stem and blocks of a forward's unit calls, by the module's rule (see its docstring).

    Example:
        >>> c = lambda name, shape, comp=True: UnitCall(name, comp, True, shape, shape)
        >>> calls = [c("stem", (2, 8, 8, 8), False), c("b1", (2, 8, 8, 8)), c("b2", (2, 16, 4, 4))]
        >>> found = select_blocks(calls)
        >>> found.stem, found.blocks
        ((1, 'input'), (1, 2))
    """
    feature = [_is_feature(c) for c in calls]
    start, end = _token_run(calls, feature)
    if end - start >= 2:  # 1. Transformer blocks
        first = calls[start]
        usable = first.input_shape is not None and not first.reads_model_input
        stem = (start, "input") if usable and not first.input_changed else None
        return Blocks(stem=stem, blocks=tuple(range(start, end)), kind="tokens")
    # 2. CNN: the composite units after the stem.
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
        return Blocks(stem=None, blocks=(), kind="cnn")
    blocks = (
        [i for i in candidates if calls[i].composite]
        or [
            i  # no composite units: the last map before each change of resolution, and the last
            for n, i in enumerate(candidates)
            if n + 1 == len(candidates)
            or calls[candidates[n + 1]].output_shape[2:] != calls[i].output_shape[2:]  # type: ignore[index]
        ]
    )
    return Blocks(stem=stem, blocks=tuple(blocks), kind="cnn")


def first_tensor(value: Any) -> torch.Tensor | None:
    """Returns ``value`` if it is a tensor, else the first tensor of a (nested) tuple or list, or None."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, tuple | list) and value:
        return first_tensor(value[0])
    return None


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
class UnitRecorder:
    """Forward hooks on a model's units that record each call's input and output tensors.

    ``calls`` holds this forward's unit calls in execution order (:meth:`reset` before each forward);
    :meth:`describe` gives what the rule reads of them (shapes, whether a tensor changed in place
    since); ``model_input`` is the tensor the model was called with.
    """

    model: nn.Module
    units: list[tuple[str, nn.Module]] = field(default_factory=list)
    calls: list[_Call] = field(default_factory=list)
    model_input: torch.Tensor | None = None
    _open: dict[int, list[_Call]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.units:
            self.units = units_of(self.model)

    def attach(self, stack: contextlib.ExitStack) -> None:
        """Registers the hooks; ``stack`` removes every one (and forgets the calls) when it closes."""

        def model_pre_hook(module: nn.Module, args: tuple) -> None:
            self.model_input = first_tensor(args)

        stack.callback(self.reset)
        stack.callback(self.model.register_forward_pre_hook(model_pre_hook).remove)
        for name, module in self.units:
            pre = module.register_forward_pre_hook(
                lambda m, a, name=name: self._pre_hook(name, m, a)
            )
            stack.callback(pre.remove)
            stack.callback(module.register_forward_hook(self._hook).remove)

    def reset(self) -> None:
        """Forgets the recorded calls (before a new forward)."""
        self.calls, self._open, self.model_input = [], {}, None

    def _pre_hook(self, name: str, module: nn.Module, args: tuple) -> None:
        t = first_tensor(args)
        call = _Call(name, module, t, t._version if t is not None else 0)
        self.calls.append(call)
        self._open.setdefault(id(module), []).append(call)

    def _hook(self, module: nn.Module, args: tuple, output: Any) -> None:
        stack = self._open.get(id(module))
        if not stack:
            return
        call = stack.pop()
        t = first_tensor(output)
        call.output, call.output_version = t, (t._version if t is not None else 0)

    def describe(self) -> list[UnitCall]:
        """Returns what the rule reads of this forward's unit calls."""
        return [c.describe(self.model_input) for c in self.calls]

    def names(self) -> list[str]:
        """Returns the names of this forward's unit calls, in order."""
        return [c.name for c in self.calls]

    def tensors(
        self, selection: Blocks, indices: Sequence[int]
    ) -> list[tuple[torch.Tensor | None, int]]:
        """Returns this forward's ``(tensor, version at the call)`` at the stem, then at ``indices``."""
        picked: list[tuple[torch.Tensor | None, int]] = []
        if selection.stem is not None:
            index, where = selection.stem
            call = self.calls[index]
            picked.append(
                (call.input, call.input_version)
                if where == "input"
                else (call.output, call.output_version)
            )
        picked += [(self.calls[i].output, self.calls[i].output_version) for i in indices]
        return picked
