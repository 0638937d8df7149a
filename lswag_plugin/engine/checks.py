"""Input checks of a score: the device, the precision, the batch, the model's output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from lswag_plugin.errors import BadBatch, BadDevice

__all__ = [
    "PRECISIONS",
    "autocast_dtype_of",
    "check_batch",
    "check_labels",
    "check_output",
    "logits_of",
    "resolve_device",
]


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Returns the scoring device: ``None``/``"auto"`` picks CUDA when present, else CPU."""
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise BadDevice(
            f"device {str(dev)!r} was requested but CUDA is not available; use device='cpu' or 'auto'"
        )
    return dev


def logits_of(output: Any) -> torch.Tensor:
    """Returns the logits tensor in a model's output (a tensor, a tuple's first, ``.logits`` or ``["logits"]``)."""
    if isinstance(output, torch.Tensor):
        return output
    if isinstance(output, Mapping) and "logits" in output:
        return output["logits"]
    if hasattr(output, "logits") and isinstance(output.logits, torch.Tensor):
        return output.logits
    if isinstance(output, list | tuple) and output and isinstance(output[0], torch.Tensor):
        return output[0]
    raise BadBatch(
        f"cannot find logits in the model's output of type {type(output).__name__}; "
        "return a tensor (or pass loss_fn)"
    )


PRECISIONS: dict[str, torch.dtype | None] = {
    "float32": None,
    "fp32": None,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def autocast_dtype_of(precision: str | None) -> torch.dtype | None:
    """Returns the autocast dtype of ``precision`` (None: full precision).

    Raises:
        ValueError: An unknown precision name.
    """
    if precision is None:
        return None
    if precision not in PRECISIONS:
        raise ValueError(
            f"precision must be one of {', '.join(PRECISIONS)} (or None), got {precision!r}"
        )
    return PRECISIONS[precision]


def check_batch(x: torch.Tensor, y: torch.Tensor, minibatches: int) -> None:
    """Raises :class:`BadBatch` unless ``(x, y)`` can be split into ``minibatches`` scored minibatches."""
    if x.dim() == 0 or len(x) < minibatches:
        raise BadBatch(
            f"batch of {len(x) if x.dim() else 0} sample(s) cannot be split into {minibatches} minibatches; "
            f"the requested proxies need at least {minibatches} samples (statistics across minibatches)"
        )
    if not torch.is_floating_point(x):
        raise BadBatch(
            f"inputs must be floating point images, got dtype {x.dtype}; convert with x.float() / 255"
        )
    if y.dim() != 1 or torch.is_floating_point(y):
        raise BadBatch(
            f"labels must be a 1-D integer tensor, got shape {tuple(y.shape)} dtype {y.dtype}"
        )
    if (y < 0).any():
        raise BadBatch(f"labels must be >= 0, got min {int(y.min())}")


def check_output(
    out: torch.Tensor, y: torch.Tensor, num_classes: int | None, custom_loss: bool
) -> None:
    """Raises :class:`BadBatch` unless ``out`` are ``(batch, num_classes)`` logits (skipped for a custom loss)."""
    if custom_loss:
        return
    if out.dim() != 2 or out.shape[0] != y.shape[0]:
        raise BadBatch(
            f"model output has shape {tuple(out.shape)} but the labels are {tuple(y.shape)}: expected "
            f"({y.shape[0]}, num_classes) logits (pass loss_fn for other outputs)"
        )
    if num_classes is not None and out.shape[1] != num_classes:
        raise BadBatch(f"model outputs {out.shape[1]} classes but num_classes={num_classes}")


def check_labels(y: torch.Tensor, width: int) -> None:
    """Raises :class:`BadBatch` if a label is out of range for ``width`` outputs."""
    if int(y.max()) >= width:
        raise BadBatch(f"label {int(y.max())} is out of range for a model with {width} outputs")
