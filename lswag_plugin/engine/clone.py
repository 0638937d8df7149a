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
import functools
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
    if type(value) is tuple and all(type(v) in _SCALARS for v in value):
        return False  # kernel sizes, strides, paddings
    if isinstance(value, torch.Tensor | nn.Module):
        return True
    if isinstance(value, list | tuple | set | frozenset):
        return any(_holds_state(v) for v in value)
    if isinstance(value, dict):
        return any(_holds_state(v) for v in value.values())
    return False


_SCALARS = frozenset({int, float, bool, str, bytes, complex, type(None)})


@functools.cache
def _key_kind(key: str) -> int:
    """1 for the parameter/buffer/module tables, 2 for a hook table, 0 for any other attribute."""
    return 1 if key in _TABLES else 2 if key.startswith(_HOOK_TABLE_PREFIXES) else 0


@functools.cache
def _class_ok(cls: type) -> bool:
    """Whether instances of ``cls`` can be copied attribute by attribute (no ``__deepcopy__``, not
    TorchScript)."""
    return not (issubclass(cls, torch.jit.ScriptModule) or "__deepcopy__" in vars(cls))


#: What ``nn.Module.__init__`` sets on every module, hook tables first (they start empty in a copy).
_HOOK_TABLES = tuple(k for k in vars(nn.Module()) if _key_kind(k) == 2)
_FRAMEWORK_KEYS = frozenset(vars(nn.Module()))


def _copied_attributes(module: nn.Module, *, check: bool) -> dict[str, Any] | None:
    """Returns ``module``'s attributes as its copy gets them, or None (with ``check``) if it holds
    tensors or modules outside its tables.

    The parameter, buffer and module tables are left for the caller to fill; hook tables start empty;
    mutable containers of plain data are copied; other values are shared. The attributes every module
    has are handled by name; only a module's own attributes are looked at one by one.
    """
    state = dict(vars(module))
    for key in _HOOK_TABLES:
        table = state.get(key)
        if table is not None and hasattr(table, "clear"):
            state[key] = type(table)()
    for key in state.keys() - _FRAMEWORK_KEYS:
        value = state[key]
        if type(value) in _SCALARS:
            continue
        kind = _key_kind(key)
        if kind == 2:
            state[key] = type(value)() if hasattr(value, "clear") else value
        elif kind == 0:
            if check and _holds_state(value):
                return None
            if isinstance(value, list | set | dict):
                state[key] = copy.copy(value)
    for key in _TABLES:
        state.pop(key, None)
    nonpersistent = state.get("_non_persistent_buffers_set")
    if isinstance(nonpersistent, set):
        state["_non_persistent_buffers_set"] = set(nonpersistent)
    return state


def _plain_tensors(module: nn.Module) -> bool:
    """Whether ``module``'s parameters are plain ``nn.Parameter``s and its buffers plain tensors."""
    if any(p is not None and type(p) is not nn.Parameter for p in module._parameters.values()):
        return False
    return all(b is None or type(b) is torch.Tensor for b in module._buffers.values())


def is_plain_module_tree(model: nn.Module) -> bool:
    """Returns True if every module keeps its tensors and submodules only in its own tables.

    False for modules with tensors or modules in plain attributes, a custom ``__deepcopy__``, TorchScript
    modules and parameter subclasses (e.g. lazy parameters): :func:`clone_module` would share or lose them.
    """
    return all(
        _class_ok(type(m)) and _plain_tensors(m) and _copied_attributes(m, check=True) is not None
        for m in model.modules()
    )


class _NotPlain(Exception):
    """Raised inside :func:`_clone` by a module :func:`clone_module` cannot copy."""


def clone_module(model: nn.Module, device: torch.device | str | None = None) -> nn.Module:
    """Returns a copy of ``model`` with new module objects and cloned tensors, and no hooks.

    Parameters keep ``requires_grad``; tensors shared by several modules (tied weights) stay shared in
    the copy. With ``device``, tensors are copied straight there. Only for trees where
    :func:`is_plain_module_tree` holds.
    """
    return _clone(model, device, check=False)  # type: ignore[return-value]


def _clone(model: nn.Module, device: torch.device | str | None, *, check: bool) -> nn.Module | None:
    """:func:`clone_module`; with ``check``, None if the tree is not plain (one walk for both)."""
    memo: dict[int, Any] = {}

    def tensor(t: torch.Tensor) -> torch.Tensor:
        if id(t) not in memo:
            if t.is_meta:
                _check_materialised(model, (t,))
            data = t.detach().to(device, copy=True) if device is not None else t.detach().clone()
            memo[id(t)] = (
                nn.Parameter(data, t.requires_grad) if isinstance(t, nn.Parameter) else data
            )
        return memo[id(t)]

    def module(m: nn.Module) -> nn.Module:
        if id(m) in memo:
            return memo[id(m)]
        cls = type(m)
        if check and not (_class_ok(cls) and _plain_tensors(m)):
            raise _NotPlain
        state = _copied_attributes(m, check=check)
        if state is None:
            raise _NotPlain
        new = cls.__new__(cls)
        memo[id(m)] = new
        state["_parameters"] = {
            k: tensor(p) if p is not None else None for k, p in m._parameters.items()
        }
        state["_buffers"] = {k: tensor(b) if b is not None else None for k, b in m._buffers.items()}
        state["_modules"] = {k: module(c) if c is not None else None for k, c in m._modules.items()}
        new.__dict__.update(state)
        return new

    try:
        return module(model)
    except _NotPlain:
        return None


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
    try:
        # New modules, tensors copied straight to the device; None if the tree is not plain.
        work = _clone(model, device, check=True)
    except RuntimeError as exc:
        raise BadDevice(f"cannot move {type(model).__name__} to {device}: {exc}") from exc
    if work is None:
        _check_materialised(model, (*model.parameters(), *model.buffers()))
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
