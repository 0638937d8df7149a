"""Seeded blocks on PyTorch's default generators, safe to enter from several threads."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

import torch

__all__ = ["seeded"]

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

    Args:
        seed: Passed to ``torch.manual_seed``; None keeps the current state (the block still forks it
            and holds the lock).
        device: The state of this CUDA device is saved and restored too; a CPU device, or None, saves
            only the CPU generator.

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
    dev = torch.device(device) if device is not None else None
    devices = [dev] if dev is not None and dev.type == "cuda" else []
    with _LOCK, torch.random.fork_rng(devices=devices):
        if seed is not None:
            torch.manual_seed(seed)
        yield
