"""Typed errors. Every message names the problem and, where there is one, the fix."""

from __future__ import annotations

__all__ = [
    "BadArchitecture",
    "BadBatch",
    "BadData",
    "BadDevice",
    "LswagError",
    "ProxyNotApplicable",
    "UnknownProxy",
]


class LswagError(Exception):
    """Base class of every error raised by lswag_plugin."""


class UnknownProxy(LswagError, KeyError):
    """A proxy name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class ProxyNotApplicable(LswagError):
    """The proxy is not defined for this model (e.g. no activation module it can read)."""


class BadBatch(LswagError):
    """The batch cannot be scored (too small, wrong labels, wrong shape or dtype)."""


class BadData(LswagError):
    """A data source (file, folder, loader) that cannot be read."""


class BadArchitecture(LswagError, ValueError):
    """A malformed architecture string or specification."""


class BadDevice(LswagError):
    """The model or the requested device cannot be used (no CUDA, parameters on the meta device, OOM at 1 sample)."""
