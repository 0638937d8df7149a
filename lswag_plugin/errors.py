"""Every exception and warning of lswag_plugin. Each message names the problem and, where there is one, the fix.

All errors derive from :class:`LswagError`, so a host can catch one class; the command-line tool turns
any of them into a one-line message and exit code 2.

Example:
    >>> from lswag_plugin.errors import LswagError, UnknownProxy
    >>> issubclass(UnknownProxy, LswagError)
    True
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AlreadyRegistered",
    "BadArchitecture",
    "BadBatch",
    "BadData",
    "BadDevice",
    "BudgetSpent",
    "CacheError",
    "CandidateCrashed",
    "ChecksumMismatch",
    "CompareError",
    "DataUnavailable",
    "DirectionMismatch",
    "LibraError",
    "LswagError",
    "NonFiniteOutputWarning",
    "ProxyNotApplicable",
    "SearchError",
    "TrialFailed",
    "UnknownDataset",
    "UnknownName",
    "UnknownProxy",
    "UnknownSpace",
    "UnknownStrategy",
    "WorkerFailed",
    "WorkerStartFailed",
]


class LswagError(Exception):
    """Base class of every error raised by lswag_plugin."""


class UnknownName(LswagError, KeyError):
    """A name (of a proxy, space, strategy...) that is not registered; the message lists the known ones.

    Args:
        kind: What was looked up (``"proxy"``, ``"search space"``).
        name: The name given.
        known: The registered names.
        hint: An optional last sentence (where the names come from).

    Example:
        >>> str(UnknownName("search space", "nb2O1", ["nb201", "nb101"]))
        "unknown search space 'nb2O1'; known search spaces: nb101, nb201"
    """

    def __init__(
        self,
        kind: str | None = None,
        name: str | None = None,
        known: Iterable[str] = (),
        hint: str = "",
    ) -> None:
        if name is None:  # a plain message (the KeyError-style constructor)
            message = kind or ""
        else:
            plural = f"{kind[:-1]}ies" if kind and kind.endswith("y") else f"{kind}s"
            message = (
                f"unknown {kind} {name!r}; known {plural}: {', '.join(sorted(known)) or '(none)'}"
            )
            if hint:
                message += f"; {hint}"
        super().__init__(message)
        self.kind, self.name, self.known = kind, name, sorted(known)

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable.
        return str(self.args[0]) if self.args else ""


class UnknownProxy(UnknownName):
    """A proxy name that is not registered."""


class UnknownSpace(UnknownName):
    """A search-space name that is not registered."""


class UnknownDataset(UnknownName):
    """A dataset name that ``lswag data`` does not know (the message lists the known ones)."""


class UnknownStrategy(UnknownName):
    """A search-strategy (or comparison evaluator) name that is not known."""


class AlreadyRegistered(LswagError, ValueError):
    """A name (of a space, strategy...) registered twice; pass ``override=True`` to replace it on purpose.

    Example:
        >>> str(AlreadyRegistered("search space", "nb201"))
        "search space 'nb201' is already registered; pass override=True to replace it"
    """

    def __init__(self, kind: str, name: str | None = None) -> None:
        if name is None:  # a plain message (how an unpickled copy is rebuilt)
            super().__init__(kind)
        else:
            super().__init__(
                f"{kind} {name!r} is already registered; pass override=True to replace it"
            )
        self.kind, self.name = kind, name


class ProxyNotApplicable(LswagError):
    """The proxy is not defined for this model (e.g. no activation module it can read)."""


class BadBatch(LswagError):
    """The batch cannot be scored (too small, wrong labels, wrong shape or dtype)."""


class BadData(LswagError):
    """A data source (file, folder, loader) that cannot be read."""


class DataUnavailable(LswagError):
    """A dataset or image set that cannot be fetched or built here (no network, a missing package, an
    unwritable folder); the message names the command or setting that fixes it."""


class ChecksumMismatch(DataUnavailable):
    """A downloaded file whose sha256 is not the pinned one; it has been deleted.

    Args:
        file: The file (its place upstream or in the mirror).
        expected: The pinned sha256.
        actual: The sha256 of the bytes received.
        hint: An optional last sentence (where the bytes came from, what to do).

    Example:
        >>> err = ChecksumMismatch("a/b/c/t.csv", "12ab", "34cd")
        >>> str(err), err.actual
        ('a/b/c/t.csv: sha256 34cd does not match the pinned 12ab; the file was deleted', '34cd')
    """

    def __init__(self, file: str, expected: str, actual: str, hint: str = "") -> None:
        message = (
            f"{file}: sha256 {actual} does not match the pinned {expected}; the file was deleted"
        )
        super().__init__(f"{message}; {hint}" if hint else message)
        self.file, self.expected, self.actual, self.hint = file, expected, actual, hint

    def __reduce__(self) -> tuple:  # picklable across worker processes
        return type(self), (self.file, self.expected, self.actual, self.hint)


class BadArchitecture(LswagError, ValueError):
    """A malformed architecture string or specification."""


class BadDevice(LswagError):
    """The model or the requested device cannot be used (no CUDA, parameters on the meta device, OOM at 1 sample)."""


class CacheError(LswagError):
    """The score cache file cannot be used (corrupt, not a score cache, or unwritable)."""


class LibraError(LswagError, ValueError):
    """A LIBRA fit that cannot be done (too few rows, no usable proxy) or a malformed model file."""


class SearchError(LswagError):
    """A search that cannot run as configured (an evaluator of the wrong length, a budget too small)."""


class CompareError(LswagError):
    """A comparison that cannot run (a cell missing from the table, an unusable grid)."""


class DirectionMismatch(LswagError, ValueError):
    """The Optuna study optimises in a direction the objective's proxies do not have."""


class TrialFailed(LswagError):
    """A candidate could not be built or scored; the host (NNI) records its trial as failed with this reason."""


class WorkerFailed(LswagError):
    """A scoring worker died (killed, out of memory) while it held a candidate; only that candidate fails."""


class WorkerStartFailed(WorkerFailed):
    """A scoring worker process died before it was ready (an unguarded script, a failing import)."""


class CandidateCrashed(RuntimeError):
    """A candidate raised an unexpected exception (a bug, not a typed error) in a worker process.

    Not an :class:`LswagError`: bugs propagate instead of failing one candidate. The message holds the
    worker's traceback.
    """


class BudgetSpent(Exception):
    """Raised inside a strategy when its evaluation budget is spent (control flow, not an error)."""


class NonFiniteOutputWarning(UserWarning):
    """The model produced NaN or inf on the batch: its scores are NaN (a host study goes on)."""
