"""A fast private copy of a module tree: new modules, cloned tensors, shared plain attributes.

``copy.deepcopy`` walks every Python object of a model; for a NAS-Bench-201 network that is a tenth of
a forward+backward. :func:`clone_module` copies only what scoring can change: each module object, its
parameter/buffer/submodule tables and their tensors (ties preserved). Other attributes (ints, strings,
configs) are shared with the original, which is safe for modules whose state lives in those tables;
:func:`is_plain_module_tree` checks that, and the engine falls back to ``deepcopy`` otherwise.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
from torch import nn

__all__ = ["clone_module", "is_plain_module_tree"]

_TABLES = ("_parameters", "_buffers", "_modules")
_HOOK_TABLE_PREFIXES = ("_forward_", "_backward_", "_state_dict_", "_load_state_dict_")


def _holds_state(value: Any) -> bool:
    """Whether an attribute value holds tensors or modules (state a shared reference would leak)."""
    if isinstance(value, torch.Tensor | nn.Module):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_state(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_state(v) for v in value.values())
    return False


def is_plain_module_tree(model: nn.Module) -> bool:
    """Returns True if every module keeps its tensors and submodules only in its own tables.

    False for modules with tensors or modules in plain attributes, a custom ``__deepcopy__``, TorchScript
    modules and parameter subclasses (e.g. lazy parameters): :func:`clone_module` would share or lose them.
    """
    for module in model.modules():
        cls = type(module)
        if isinstance(module, torch.jit.ScriptModule) or "__deepcopy__" in vars(cls):
            return False
        for key, value in vars(module).items():
            if key in _TABLES or key.startswith(_HOOK_TABLE_PREFIXES):
                continue
            if _holds_state(value):
                return False
        for p in module._parameters.values():
            if p is not None and type(p) is not nn.Parameter:
                return False
        for b in module._buffers.values():
            if b is not None and type(b) is not torch.Tensor:
                return False
    return True


def _fresh_attribute(key: str, value: Any) -> Any:
    """Hook tables start empty; mutable containers of plain data are copied, other values shared."""
    if key.startswith(_HOOK_TABLE_PREFIXES) and hasattr(value, "clear"):
        return type(value)()
    if isinstance(value, list | set | dict):
        return copy.copy(value)
    return value


def clone_module(model: nn.Module, device: torch.device | str | None = None) -> nn.Module:
    """Returns a copy of ``model`` with new module objects and cloned tensors, and no hooks.

    Parameters keep ``requires_grad``; tensors shared by several modules (tied weights) stay shared in
    the copy. With ``device``, tensors are copied straight there. Only for trees where
    :func:`is_plain_module_tree` holds.
    """
    memo: dict[int, Any] = {}

    def tensor(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in memo:
            data = t.detach().to(device, copy=True) if device is not None else t.detach().clone()
            memo[id(t)] = (
                nn.Parameter(data, t.requires_grad) if isinstance(t, nn.Parameter) else data
            )
        return memo[id(t)]

    def module(m: nn.Module) -> nn.Module:
        if id(m) in memo:
            return memo[id(m)]
        new = type(m).__new__(type(m))
        memo[id(m)] = new
        state = {k: _fresh_attribute(k, v) for k, v in vars(m).items()}
        state["_parameters"] = {
            k: tensor(p) if p is not None else None for k, p in m._parameters.items()
        }
        state["_buffers"] = {k: tensor(b) if b is not None else None for k, b in m._buffers.items()}
        state["_modules"] = {k: module(c) if c is not None else None for k, c in m._modules.items()}
        new.__dict__.update(state)
        return new

    return module(model)
