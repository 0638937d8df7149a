"""Seeded blocks on PyTorch's default generators, safe to enter from several threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["RngState", "get_rng_state", "seeded", "set_rng_state"]

#: PyTorch's default generators are process-wide: one lock for every seeded block of the package.
_LOCK = threading.RLock()


@contextmanager
def seeded(seed: int | None, device: torch.device | str | None = None) -> Iterator[None]:
    """Runs the block with PyTorch's default generators seeded, then restores their previous state.

    PyTorch has one default CPU generator per process. If two threads seed it at once, each one resets
    the other's stream mid-way: a network built in one thread while another thread starts a score gets
    different weights. A seeded block therefore holds a process-wide re-entrant lock, so seeded blocks
    in different threads run one after another. Threads that build and score networks (Optuna's
    ``n_jobs``) get the same values as a sequential run; to score in parallel, use processes.

    Only the generators the block saves are seeded: the CPU generator and, for a CUDA ``device``, that
    device's. ``torch.manual_seed`` would also reseed every other accelerator generator, for good, since
    the block would not restore them. The CPU stream is the one ``torch.manual_seed(seed)`` gives.

    Args:
        seed: The seed; None keeps the current state (the block still forks it and holds the lock).
        device: The state of this CUDA device is seeded, saved and restored too. None means torch's
            default device (``torch.set_default_device``), where a build creates its tensors; a CPU
            device saves only the CPU generator.

    Example:
        >>> import torch
        >>> from lswag_plugin.engine.rng import seeded
        >>> with seeded(0):
        ...     a = torch.rand(2)
        >>> with seeded(0):
        ...     b = torch.rand(2)
        >>> bool((a == b).all())
        True
    """
    dev = torch.device(device) if device is not None else _default_device()
    devices = [dev] if dev.type == "cuda" else []
    with _LOCK, torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.random.default_generator.manual_seed(int(seed))
            for d in devices:
                with torch.cuda.device(d):
                    torch.cuda.manual_seed(int(seed))
        yield


def _default_device() -> torch.device:
    """torch's default device for new tensors (``torch.get_default_device`` appeared in torch 2.3)."""
    get = getattr(torch, "get_default_device", None)
    return get() if get is not None else torch.device("cpu")


RngState = tuple[torch.Tensor, "torch.Tensor | None"]


def get_rng_state(device: torch.device) -> RngState:
    """Returns the CPU (and, for a CUDA ``device``, that device's) random state, to replay a pass."""
    cuda = torch.cuda.get_rng_state(device) if device.type == "cuda" else None
    return torch.get_rng_state(), cuda


def set_rng_state(device: torch.device, state: RngState) -> None:
    """Restores a state :func:`get_rng_state` returned."""
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1], device)
