"""What the engine reads of a model's module tree, found in one walk.

A score needs the model's modules (to set train mode), its parameters (trainable, gradients cleared),
its buffers (the device check), its Conv/Linear layers (Λ, ZiCo, SNIP, ...) and its activation modules
(Ψ, NWOT, MeCo). :class:`ModelIndex` gathers all of them in one walk of ``named_modules`` instead of one
walk each; the passes never change the module tree, so the index stays valid for the whole score.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
from torch import nn

__all__ = ["ModelIndex", "is_activation_module", "is_weight_layer"]

_ACTIVATION_NAME = re.compile(r"relu|gelu|silu|swish|elu|mish", re.IGNORECASE)
_KNOWN_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.ReLU6,
    nn.LeakyReLU,
    nn.PReLU,
    nn.RReLU,
    nn.GELU,
    nn.SiLU,
    nn.Mish,
    nn.Hardswish,
    nn.ELU,
    nn.CELU,
    nn.SELU,
)


def is_activation_module(module: nn.Module) -> bool:
    """Returns True for a leaf activation whose output is > 0 exactly where its input is > 0.

    The ReLU family, GELU, SiLU/Swish, Mish, Hard-Swish and the ELU family (PyTorch's and timm's, which
    are matched by class name) all have that property, so a pattern is ``output > 0``.

    Example:
        >>> from torch import nn
        >>> is_activation_module(nn.GELU()), is_activation_module(nn.Sequential(nn.ReLU()))
        (True, False)
    """
    if isinstance(module, _KNOWN_ACTIVATIONS):
        return True
    if next(module.children(), None) is not None:
        return False
    return bool(_ACTIVATION_NAME.search(type(module).__name__))


def is_weight_layer(module: nn.Module) -> bool:
    """Returns True for the layers whose weights Λ/ZiCo read: Conv (any dim) and Linear."""
    return isinstance(module, nn.modules.conv._ConvNd | nn.Linear) and isinstance(
        getattr(module, "weight", None), torch.Tensor
    )


def _named_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """``list(model.named_modules())`` by a plain recursion: the same modules, names and order (a
    module reached twice is listed once), without a generator per level of nesting."""
    out: list[tuple[str, nn.Module]] = []
    seen: set[int] = set()

    def walk(prefix: str, module: nn.Module) -> None:
        seen.add(id(module))
        out.append((prefix, module))
        for name, child in module._modules.items():
            if child is not None and id(child) not in seen:
                walk(f"{prefix}.{name}" if prefix else name, child)

    walk("", model)
    return out


@dataclass(frozen=True)
class ModelIndex:
    """The parts of a model a score reads, in module order, from one walk of its module tree.

    Attributes:
        modules: Every module (shared modules once), the model first.
        parameters: Every parameter once (tied weights once), in ``model.parameters()`` order.
        buffers: Every buffer once, in ``model.buffers()`` order.
        weight_layers: ``(name, module)`` of every Conv/Linear layer.
        activations: ``(name, module)`` of every activation module (:func:`is_activation_module`).

    Example:
        >>> from torch import nn
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten())
        >>> index = ModelIndex.of(net)
        >>> len(index.parameters), [n for n, _ in index.weight_layers], [n for n, _ in index.activations]
        (4, ['0'], ['2'])
    """

    modules: tuple[nn.Module, ...]
    parameters: tuple[torch.Tensor, ...]
    buffers: tuple[torch.Tensor, ...]
    weight_layers: tuple[tuple[str, nn.Module], ...]
    activations: tuple[tuple[str, nn.Module], ...]

    @classmethod
    def of(cls, model: nn.Module) -> ModelIndex:
        """Returns the index of ``model`` (one walk of its module tree, in ``named_modules`` order)."""
        modules, weight_layers, activations = [], [], []
        parameters: dict[int, torch.Tensor] = {}
        buffers: dict[int, torch.Tensor] = {}
        for name, module in _named_modules(model):
            modules.append(module)
            for p in module._parameters.values():
                if p is not None:
                    parameters.setdefault(id(p), p)
            for b in module._buffers.values():
                if b is not None:
                    buffers.setdefault(id(b), b)
            if is_weight_layer(module):
                weight_layers.append((name, module))
            elif is_activation_module(module):
                activations.append((name, module))
        return cls(
            tuple(modules),
            tuple(parameters.values()),
            tuple(buffers.values()),
            tuple(weight_layers),
            tuple(activations),
        )

    def tensors(self) -> tuple[torch.Tensor, ...]:
        """Returns the parameters and buffers."""
        return self.parameters + self.buffers

    def set_train_mode(self, model: nn.Module) -> None:
        """Puts ``model`` (the indexed one) in train mode, as ``model.train()`` does.

        Sets ``training`` on the indexed modules directly unless a module overrides ``train``, in
        which case ``model.train()`` runs (the override may do more).
        """
        if all(type(m).train is nn.Module.train for m in self.modules):
            for m in self.modules:
                # What Module.train sets, without __setattr__'s checks.
                m.__dict__["training"] = True
        else:
            model.train()
