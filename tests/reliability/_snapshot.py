"""Bit-exact snapshots of everything of a caller's model that scoring must leave alone."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

_HOOKS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_state_dict_hooks",
    "_load_state_dict_pre_hooks",
)


def _bits(t: torch.Tensor | None) -> Any:
    """A tensor's dtype, shape, device and raw bytes (NaN equals NaN); meta tensors have no bytes."""
    if t is None:
        return None
    t = t.detach()
    if t.is_meta:
        return (t.dtype, tuple(t.shape), "meta")
    return (
        t.dtype,
        tuple(t.shape),
        str(t.device),
        t.cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes(),
    )


def snapshot(model: nn.Module) -> dict[str, Any]:
    """Returns weights and buffers (bitwise), modes, ``requires_grad``, ``.grad``, hooks and tensor ids."""
    params = list(model.named_parameters(remove_duplicate=False))
    return {
        "tensors": {k: _bits(v) for k, v in model.state_dict(keep_vars=True).items()},
        "ids": [(n, id(p)) for n, p in params],
        "training": [(n, m.training) for n, m in model.named_modules()],
        "requires_grad": [(n, p.requires_grad) for n, p in params],
        "grad": [(n, _bits(p.grad)) for n, p in params],
        "hooks": [
            (n, attr, [(k, id(v)) for k, v in getattr(m, attr).items()])
            for n, m in model.named_modules()
            for attr in _HOOKS
        ],
        "tensor_hooks": [(n, list((p._backward_hooks or {}).keys())) for n, p in params],
        "devices": sorted({str(p.device) for p in model.parameters()}),
    }


def assert_untouched(model: nn.Module, before: dict[str, Any]) -> None:
    """Asserts ``model`` is bit-identical to the snapshot ``before``, naming the first difference."""
    after = snapshot(model)
    for key, value in before.items():
        assert after[key] == value, f"scoring changed the caller's model: {key}"
