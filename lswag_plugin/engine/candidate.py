"""One candidate: build it, score it, and what fails it.

:class:`CandidateScorer` holds what every candidate of a session shares (the plan, the settings, the
batch placed on the device once) and scores one model or builds-then-scores one candidate; a worker
process runs one (:mod:`lswag_plugin.engine.workers`), and :class:`~lswag_plugin.engine.Scorer` adds
the cache and the workers around it.

What fails a candidate, and what does not: a typed :class:`~lswag_plugin.errors.LswagError` (a network
the engine cannot score: no activation modules, a bad output shape, an architecture the space rejects)
and running out of memory fail the candidate, with the reason in its result; any other exception is a
bug (in a builder, a proxy or the engine) and propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lswag_plugin.engine.checks import check_batch
from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.engine.plan import Plan, make_plan
from lswag_plugin.engine.registry import available
from lswag_plugin.engine.scores import Scores
from lswag_plugin.engine.scoring import score_model
from lswag_plugin.errors import LswagError

__all__ = [
    "CANDIDATE_ERRORS",
    "CandidateKey",
    "CandidateResult",
    "CandidateScorer",
    "candidate_error",
]

#: Errors that fail one candidate (not the session): typed engine errors and out-of-memory.
CANDIDATE_ERRORS: tuple[type[BaseException], ...] = (LswagError, torch.OutOfMemoryError)


def candidate_error(exc: BaseException) -> str:
    """Returns the reason a candidate failed, ``"ErrorType: message"``."""
    return f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class CandidateKey:
    """Names a candidate in the score cache: a space (or namespace) and an architecture's string.

    Attributes:
        namespace: The search space's name (``"nb201"``) or another namespace (``"timm"``,
            ``"nni:MySpace"``).
        arch: The architecture's canonical string in that namespace.
        extra: Host settings that change the score too (e.g. NNI's ``init_seed``), JSON-able; kept
            as sorted ``(name, value)`` pairs, so the key is hashable.

    Example:
        >>> key = CandidateKey("nni:NasBench201", "a", extra={"init_seed": 0})
        >>> key.extra, key == CandidateKey("nni:NasBench201", "a", extra=(("init_seed", 0),))
        ((('init_seed', 0),), True)
    """

    namespace: str
    arch: str
    extra: Mapping[str, Any] | tuple[tuple[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        if self.extra is not None:
            object.__setattr__(self, "extra", tuple(sorted(dict(self.extra).items())))


@dataclass
class CandidateResult:
    """One candidate's outcome (:meth:`Scorer.map`, :meth:`Scorer.evaluate`, :meth:`Scorer.score_archs`).

    Attributes:
        arch: The candidate's label (an architecture's canonical string).
        values: Proxy name → score for the requested proxies and the registered proxies computed with
            them (e.g. a LIBRA model's members); None when the candidate failed.
        components: The engine's sub-scores (``lswag.lambda``, ...), also for a cache hit when the
            cache holds them.
        error: Why the candidate failed (``"ErrorType: message"``), or None.
        seconds: Seconds spent building and scoring it (0 for a cache hit).
        cached: Whether every value came from the cache.

    Example:
        >>> CandidateResult("a", None, error="BadArchitecture: no path").ok
        False
    """

    arch: str
    values: dict[str, float] | None
    components: dict[str, float] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0
    cached: bool = False

    @property
    def ok(self) -> bool:
        """Whether the candidate was scored."""
        return self.values is not None


class CandidateScorer:
    """The plan, the settings and the batch on the device: scores one model, or one candidate.

    Args:
        proxies: Proxy names (``"lswag"``, ``"lswag,nwot"``, ``["zico", "swap"]`` or ``"all"``).
        config: The scoring settings.

    Raises:
        UnknownProxy: A proxy name is not registered.
        BadDevice: The device is not available.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from lswag_plugin.engine import ScoringConfig
        >>> from lswag_plugin.engine.candidate import CandidateScorer
        >>> x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 4
        >>> scorer = CandidateScorer("params", ScoringConfig(data=(x, y), device="cpu"))
        >>> result = scorer.score_built(lambda: nn.Sequential(nn.Flatten(), nn.Linear(192, 4)), "lin")
        >>> result.values, result.ok
        ({'params': 772.0}, True)
    """

    def __init__(self, proxies: str | Iterable[str], config: ScoringConfig) -> None:
        self.config = config
        self.plan: Plan = make_plan(proxies, minibatches=config.minibatches, options=config.options)
        self.proxies = [s.name for s in self.plan.specs]
        self.device = config.torch_device()
        self._placed: dict[torch.dtype, tuple[torch.Tensor, torch.Tensor]] = {}
        self._registered = {p.name for p in available()}

    def batch(self, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the batch on the scoring device in ``dtype`` (placed once per dtype)."""
        if dtype not in self._placed:
            x, y = self.config.batch()
            # Checked before the conversion below: integer images are an error, not a cast.
            check_batch(x, y, self.plan.minibatches)
            self._placed[dtype] = (
                x.to(self.device, dtype=dtype),
                y.to(self.device, dtype=torch.int64),
            )
        return self._placed[dtype]

    def score(self, model: nn.Module, *, owned: bool = False) -> Scores:
        """Returns the scores of ``model`` (no cache).

        Args:
            model: The network.
            owned: True hands the model over: the scorer built it (or the caller will not use it
                again), so it is scored in place, without a private copy, and left changed (train mode,
                gradients cleared, batch-norm statistics updated). False (the default) never changes it.
        """
        return self._score(model, owned, stacklevel=3)

    def _score(self, model: nn.Module, owned: bool, *, stacklevel: int) -> Scores:
        """:meth:`score`; ``stacklevel`` of the non-finite warning, as ``score_model`` counts it."""
        param = next(iter(model.parameters()), None)
        floating = param is not None and torch.is_floating_point(param)
        x, y = self.batch(param.dtype if floating else torch.float32)  # type: ignore[union-attr]
        threads = self.config.threads
        previous = torch.get_num_threads()
        if threads and threads != previous:
            torch.set_num_threads(threads)
        try:
            return score_model(
                model, self.plan, self.config, x, y, self.device, owned=owned, stacklevel=stacklevel
            )
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)

    def result(self, label: str, scores: Scores, seconds: float) -> CandidateResult:
        """Returns the :class:`CandidateResult` of ``scores``: the requested proxies' values and every
        registered proxy the engine computed with them, and the sub-scores."""
        values = {n: float(v) for n, v in scores.components.items() if n in self._registered}
        values.update({n: float(v) for n, v in scores.items()})
        components = {k: float(v) for k, v in scores.components.items()}
        return CandidateResult(label, values, components=components, seconds=seconds)

    def score_built(
        self, build: Callable[[], nn.Module], label: str = "", *, catch: bool = True
    ) -> CandidateResult:
        """Builds a network with ``build()`` and scores it in place (no copy), in this process.

        With ``catch``, a typed error (:class:`~lswag_plugin.errors.LswagError`) or running out of
        memory while building or scoring is the candidate's result (``error``); other exceptions are
        bugs and propagate.
        """
        started = time.perf_counter()
        try:
            scores = self.score(build(), owned=True)
        except CANDIDATE_ERRORS as exc:
            if not catch:
                raise
            return CandidateResult(
                label, None, error=candidate_error(exc), seconds=time.perf_counter() - started
            )
        return self.result(label, scores, time.perf_counter() - started)
