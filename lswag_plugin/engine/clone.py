"""Private copies of a caller's model, and the edits the engine makes to them (never to the caller's).

:func:`private_copy` is the copy every score runs on.

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

from lswag_plugin.engine.modules import ModelIndex
from lswag_plugin.errors import BadDevice, LswagError

__all__ = [
    "adopt",
    "clone_module",
    "disable_fused_attention",
    "drop_module_hooks",
    "is_plain_module_tree",
    "prepare_for_scoring",
    "private_copy",
    "remove_batch_norm",
    "scoring_model",
]

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


_HOOK_DICTS = (
    "_forward_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks",
    "_forward_pre_hooks_with_kwargs",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_state_dict_pre_hooks",
    "_load_state_dict_pre_hooks",
    "_load_state_dict_post_hooks",
)


def drop_module_hooks(model: nn.Module) -> None:
    """Empties the hook tables of every module of ``model`` (a private copy): a deep copy shares the
    caller's hook functions, which must not fire while we score."""
    for module in model.modules():
        for attr in _HOOK_DICTS:
            table = getattr(module, attr, None)
            if table is not None and hasattr(table, "clear"):
                table.clear()


def prepare_for_scoring(work: nn.Module, index: ModelIndex | None = None) -> nn.Module:
    """Puts a private copy in the state every score starts from: train mode, every parameter
    trainable, no ``.grad``. Returns ``work``. ``index``: ``work``'s index, if already made."""
    index = index or ModelIndex.of(work)
    index.set_train_mode(work)
    for p in index.parameters:
        p.requires_grad_(True)
        p.grad = None
    return work


def _check_materialised(model: nn.Module, tensors: tuple[torch.Tensor, ...]) -> None:
    if any(t.is_meta for t in tensors):
        raise BadDevice(
            f"{type(model).__name__} has tensors on the meta device (no data): materialise it first, "
            "e.g. model.to_empty(device='cpu') and initialise its weights"
        )


def _moved(model: nn.Module, device: torch.device) -> nn.Module:
    try:
        return model.to(device)
    except RuntimeError as exc:
        raise BadDevice(f"cannot move {type(model).__name__} to {device}: {exc}") from exc


def scoring_model(
    model: nn.Module, device: torch.device, *, owned: bool
) -> tuple[nn.Module, ModelIndex]:
    """Returns the model a score runs on, on ``device`` and prepared for scoring, and its index.

    ``owned=True``: ``model`` itself (handed over by its owner: built to be scored and not used
    again), moved to ``device`` if needed. ``owned=False``: a private copy without hooks, so the
    caller's hooks never fire while scoring: module trees that keep their state in their own tables
    are copied by :func:`clone_module` (fast), others by ``copy.deepcopy``.

    Raises:
        BadDevice: The model has tensors on the meta device, or cannot be moved to ``device``.
    """
    if owned:
        index = ModelIndex.of(model)
        tensors = index.tensors()
        _check_materialised(model, tensors)
        if not all(t.device == device for t in tensors):
            model = _moved(model, device)
            index = ModelIndex.of(model)
        return prepare_for_scoring(model, index), index
    _check_materialised(model, (*model.parameters(), *model.buffers()))
    if is_plain_module_tree(model):
        try:
            work = clone_module(model, device)  # new modules, tensors copied straight to the device
        except RuntimeError as exc:
            raise BadDevice(f"cannot move {type(model).__name__} to {device}: {exc}") from exc
    else:
        try:
            work = copy.deepcopy(model)
        except Exception as exc:  # pragma: no cover - depends on exotic user models
            raise LswagError(
                f"cannot copy the model to score it without changing it: {exc}"
            ) from exc
        work = _moved(work, device)
        drop_module_hooks(work)
    index = ModelIndex.of(work)
    return prepare_for_scoring(work, index), index


def adopt(model: nn.Module, device: torch.device) -> nn.Module:
    """Returns ``model`` itself, moved to ``device`` and prepared for scoring (no copy).

    For a model handed over by its owner (one built to be scored and not used again).

    Raises:
        BadDevice: The model has tensors on the meta device, or cannot be moved to ``device``.
    """
    return scoring_model(model, device, owned=True)[0]


def private_copy(model: nn.Module, device: torch.device) -> nn.Module:
    """Returns a copy of ``model`` on ``device``, in train mode, every parameter trainable, no grads.

    The copy has no module hooks: the caller's hooks never fire while scoring (see
    :func:`scoring_model`).

    Raises:
        BadDevice: The model has tensors on the meta device, or cannot be moved to ``device``.
    """
    return scoring_model(model, device, owned=False)[0]


def disable_fused_attention(model: nn.Module) -> int:
    """Switches timm's fused attention (SDPA) off on ``model``; returns how many modules it changed.

    Fused attention hides the attention maps from hooks and cannot be differentiated twice on CPU, so
    second-order proxies call this — on a private copy only, never on the caller's model.
    """
    changed = 0
    for module in model.modules():
        if getattr(module, "fused_attn", False) is True:
            module.fused_attn = False
            changed += 1
    return changed


def remove_batch_norm(model: nn.Module) -> int:
    """Replaces every batch-norm module of ``model`` by ``nn.Identity`` in place; returns the count.

    For private copies only (synflow's "BN off").
    """
    count = 0
    for parent in list(model.modules()):
        for child_name, child in list(parent.named_children()):
            if isinstance(child, nn.modules.batchnorm._BatchNorm):
                setattr(parent, child_name, nn.Identity())
                count += 1
    return count
