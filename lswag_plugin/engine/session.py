"""``Scorer``: one scoring configuration, its batch on the device, many candidates (some in flight).

Where :func:`~lswag_plugin.score` is one call, a :class:`Scorer` is a session: the plan and the batch
(loaded, converted and placed on the device) are made once and reused for every candidate, networks the
scorer builds itself are scored in place (no private copy: nobody else holds them), scores go through
the score cache under :meth:`ScoringConfig.cache_key`, and with ``workers=N`` N candidates are scored at
once, each in a worker process of its own (:mod:`lswag_plugin.engine.workers`). Hosts (search, bench,
compare, band, the Optuna objective, the NNI evaluator) score through one.
"""

from __future__ import annotations

import contextlib
import functools
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import torch
from torch import nn

from lswag_plugin.cache import CacheKey, ScoreCache
from lswag_plugin.engine.checks import check_batch
from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.engine.plan import Plan, make_plan
from lswag_plugin.engine.registry import available
from lswag_plugin.engine.run import score_model
from lswag_plugin.engine.scores import Scores
from lswag_plugin.errors import LswagError

__all__ = ["BuildsNetworks", "CandidateResult", "Scorer"]

#: Errors that fail one candidate (not the session) when a scorer catches them.
CANDIDATE_ERRORS: tuple[type[BaseException], ...] = (
    LswagError,
    RuntimeError,
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
)


class BuildsNetworks(Protocol):
    """What a scorer needs of a search space (``lswag_plugin.spaces.SearchSpace`` has it)."""

    name: str
    default_resolution: int

    def encode(self, arch: Any) -> str: ...

    def decode(self, text: str) -> Any: ...

    def build_seeded(
        self, arch: Any, *, seed: int, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module: ...


@dataclass
class CandidateResult:
    """One candidate's outcome in :meth:`Scorer.map` and :meth:`Scorer.score_archs`.

    Attributes:
        arch: The candidate's label (an architecture's canonical string).
        values: Proxy name → score for the requested proxies and the registered proxies computed with
            them (e.g. a LIBRA model's members); None when the candidate failed.
        components: The engine's sub-scores (``lswag.lambda``, ...); empty for a cache hit.
        error: Why the candidate failed (``"ErrorType: message"``), or None.
        seconds: Seconds spent building and scoring it (0 for a cache hit).
        cached: Whether every value came from the cache.
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


class Scorer:
    """Scores many candidates with one :class:`ScoringConfig` and one set of proxies.

    Args:
        proxies: Proxy names (``"lswag"``, ``"lswag,nwot"``, ``["zico", "swap"]`` or ``"all"``).
        config: The scoring settings (default ``ScoringConfig()``).
        space: The search space whose architectures :meth:`score_archs` builds; with one, the config's
            resolution defaults to the space's and ``num_classes`` to 10.
        cache: A :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` (the default cache file) or None.
        workers: Candidates in flight in :meth:`map`/:meth:`score_archs`: 1 scores in this process; N > 1
            starts N worker processes (each with its own torch threads and CUDA context) on first use.
            Cache reads and writes stay in this process, so a worker that dies writes nothing.
        **settings: Fields of :class:`ScoringConfig` overriding ``config``'s.

    Raises:
        UnknownProxy: A proxy name is not registered.
        BadDevice: The device is not available (checked here, before any work).

    Example:
        >>> from torch import nn
        >>> from lswag_plugin.engine import Scorer
        >>> scorer = Scorer("lswag,params", device="cpu", batch_size=8, resolution=16)
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        ...                     nn.Linear(4, 8))
        >>> scores = scorer.score(net)
        >>> scores["params"], scores["lswag"] > 0
        (152.0, True)
    """

    def __init__(
        self,
        proxies: str | Iterable[str] = "lswag",
        config: ScoringConfig | None = None,
        *,
        space: BuildsNetworks | None = None,
        cache: ScoreCache | str | None = None,
        workers: int = 1,
        **settings: Any,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be >= 1, got {workers}")
        config = ScoringConfig.of(config, **settings)
        if space is not None and (config.resolution is None or config.num_classes is None):
            config = config.replace(
                resolution=config.resolution or space.default_resolution,
                num_classes=config.num_classes or 10,
            )
        self.config = config
        self.space = space
        self.plan: Plan = make_plan(
            proxies, minibatches=self.config.minibatches, options=self.config.options
        )
        self.proxies = [s.name for s in self.plan.specs]
        self.device = self.config.torch_device()
        self.cache = ScoreCache() if cache == "auto" else cache
        self.workers = int(workers)
        self._pool: Any = None
        self._partials: dict[frozenset[str], Scorer] = {}
        self._placed: dict[torch.dtype, tuple[torch.Tensor, torch.Tensor]] = {}
        self._registered = {p.name for p in available()}
        self._computed = 0

    @property
    def computed(self) -> int:
        """Candidates the engine scored (cache misses) in this session, partial ones included."""
        return self._computed + sum(p._computed for p in self._partials.values())

    @property
    def group(self) -> str:
        """The requested proxies as one name (sorted, joined by ``+``): the key of stored timings."""
        return "+".join(sorted(self.proxies))

    # -- one model -----------------------------------------------------------------------------------
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
        """Returns the scores of ``model`` (in this process).

        Args:
            model: The network.
            owned: True hands the model over: the scorer built it (or the caller will not use it
                again), so it is scored in place, without a private copy, and left changed (train mode,
                gradients cleared, batch-norm statistics updated). False (the default) never changes it.
        """
        param = next(iter(model.parameters()), None)
        floating = param is not None and torch.is_floating_point(param)
        x, y = self.batch(param.dtype if floating else torch.float32)  # type: ignore[union-attr]
        threads = self.config.threads
        previous = torch.get_num_threads()
        if threads and threads != previous:
            torch.set_num_threads(threads)
        try:
            return score_model(model, self.plan, self.config, x, y, self.device, owned=owned)
        finally:
            if torch.get_num_threads() != previous:
                torch.set_num_threads(previous)

    def score_built(
        self, build: Callable[[], nn.Module], label: str = "", *, catch: bool = True
    ) -> CandidateResult:
        """Builds a network with ``build()`` and scores it in place (no copy), in this process.

        Returns the :class:`CandidateResult`: the requested proxies' values plus every registered proxy
        the engine computed with them, and the sub-scores. With ``catch``, an error building or scoring
        the candidate is its result (``error``) instead of propagating.
        """
        started = time.perf_counter()
        try:
            scores = self.score(build(), owned=True)
        except CANDIDATE_ERRORS as exc:
            if not catch:
                raise
            return CandidateResult(
                label,
                None,
                error=f"{type(exc).__name__}: {exc}",
                seconds=time.perf_counter() - started,
            )
        values = {n: float(v) for n, v in scores.components.items() if n in self._registered}
        values.update({n: float(v) for n, v in scores.items()})
        return CandidateResult(
            label,
            values,
            components={k: float(v) for k, v in scores.components.items()},
            seconds=time.perf_counter() - started,
        )

    # -- many candidates -----------------------------------------------------------------------------
    def map(
        self,
        builders: Sequence[Callable[[], nn.Module]],
        labels: Sequence[str] | None = None,
        *,
        catch: bool = True,
    ) -> list[CandidateResult]:
        """Returns the :meth:`score_built` result of each builder, in input order.

        With ``workers > 1`` the builders (picklable callables, e.g. ``functools.partial`` of a space's
        ``build_seeded``) run in the worker processes, ``workers`` at a time; a candidate whose worker
        dies (killed, out of memory) fails alone with the reason, and the worker is replaced. No cache.

        Raises:
            LswagError: With ``catch=False``, the first failed candidate's error.
        """
        labels = list(labels) if labels is not None else [str(i) for i in range(len(builders))]
        if self.workers > 1 and len(builders) > 1:
            results = self._worker_pool().run(list(zip(builders, labels)))
        else:
            results = [self.score_built(b, lab, catch=catch) for b, lab in zip(builders, labels)]
        failed = next((r for r in results if not r.ok), None)
        if failed is not None and not catch:
            raise LswagError(f"candidate {failed.arch!r} failed: {failed.error}")
        return results

    def _worker_pool(self) -> Any:
        if self._pool is None:
            from lswag_plugin.engine.workers import WorkerPool

            self._pool = WorkerPool(self.workers, self.proxies, self.config)
        return self._pool

    def close(self) -> None:
        """Stops the worker processes (if any were started); the scorer can still score in-process."""
        for partial in self._partials.values():
            partial.close()
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    def __enter__(self) -> Scorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:  # pragma: no cover - interpreter shutdown order varies
        with contextlib.suppress(Exception):
            self.close()

    # -- architectures of a space --------------------------------------------------------------------
    def _space(self) -> BuildsNetworks:
        if self.space is None:
            raise TypeError(
                "this Scorer has no search space: create it with Scorer(..., space=...)"
            )
        return self.space

    def builder(self, arch: Any, *, seed: int | None = None) -> Callable[[], nn.Module]:
        """Returns a picklable ``build()`` of ``arch`` in the scorer's space: initialised from ``seed``
        (default the config's), with the config's ``num_classes`` outputs, at its resolution."""
        return functools.partial(
            self._space().build_seeded,
            arch,
            seed=self.config.seed if seed is None else int(seed),
            num_classes=self.config.num_classes or 10,
            resolution=self.config.resolution,
        )

    def build(self, arch: Any) -> nn.Module:
        """Returns the network of ``arch`` (see :meth:`builder`)."""
        return self.builder(arch)()

    def score_arch(self, arch: Any) -> Scores:
        """Builds ``arch`` (:meth:`build`) and scores it in place (no copy); no cache."""
        return self.score(self.build(arch), owned=True)

    def cache_keys(self, arch_key: str, names: Iterable[str]) -> dict[str, CacheKey]:
        """Returns the cache key of each proxy in ``names`` for an encoded architecture of the space."""
        return self.config.cache_keys(self._space().name, arch_key, names)

    def timing_key(self, arch_key: str) -> CacheKey:
        """Returns the key the seconds of scoring ``arch_key`` are stored under (with :attr:`group`)."""
        return self.config.cache_key(self._space().name, arch_key, min(self.proxies))

    def score_archs(self, archs: Sequence[Any], *, catch: bool = True) -> list[CandidateResult]:
        """Returns one :class:`CandidateResult` per architecture, in input order (cache first).

        Architectures missing from the cache are scored (``workers`` at a time); one whose cache holds
        some of the proxies is scored with the others only (a later run that adds a proxy to a bench
        computes just that one). Every value the engine
        computed for a candidate that is a registered proxy (the requested ones and, e.g., a LIBRA
        model's members) is written to the cache with the seconds the candidate took, in one
        transaction per candidate; a failed candidate writes nothing.

        Args:
            archs: Architectures (any form ``space.encode`` accepts).
            catch: True (default): a candidate that cannot be built or scored fails alone, with the
                reason in its result; False: its error propagates (after the others are stored).
        """
        space = self._space()
        keys = [space.encode(a) for a in archs]
        results: dict[str, CandidateResult] = {}
        found: dict[str, dict[str, float]] = {}
        todo: dict[frozenset[str], list[str]] = {}  # the proxies still to compute → architectures
        for arch_key in dict.fromkeys(keys):
            hits: dict[str, float] = {}
            if self.cache is not None:
                wanted = self.cache_keys(arch_key, self.proxies)
                got = self.cache.get_many(list(wanted.values()))
                hits = {n: got[k] for n, k in wanted.items() if k in got}
            if len(hits) == len(self.proxies):
                results[arch_key] = CandidateResult(arch_key, hits, cached=True)
            else:
                found[arch_key] = hits
                todo.setdefault(frozenset(self.proxies) - set(hits), []).append(arch_key)
        for names, group in todo.items():
            scorer = self if len(names) == len(self.proxies) else self._partial(names)
            for result in scorer._compute(group, catch=catch):
                if result.values is not None:  # the cached values join the computed ones
                    result.values = {**found[result.arch], **result.values}
                results[result.arch] = result
        for arch_key in keys:
            if not catch and not results[arch_key].ok:
                raise LswagError(f"architecture {arch_key!r} failed: {results[arch_key].error}")
        return [results[k] for k in keys]

    def _partial(self, names: frozenset[str]) -> Scorer:
        """A scorer of some of this one's proxies (those a cache lacks), same settings, kept."""
        if names not in self._partials:
            self._partials[names] = Scorer(
                [p for p in self.proxies if p in names],
                self.config,
                space=self.space,
                cache=self.cache,
                workers=self.workers,
            )
        return self._partials[names]

    def _compute(self, arch_keys: list[str], *, catch: bool) -> Iterable[CandidateResult]:
        """Scores ``arch_keys`` (no cache lookup) and stores each success; yields the results in order."""
        space = self._space()
        builders = [self.builder(space.decode(k)) for k in arch_keys]
        if self.workers > 1 and len(builders) > 1:
            computed: Iterable[CandidateResult] = self.map(builders, arch_keys, catch=True)
        else:  # in this process, one at a time: an error propagates with its own type
            computed = (self.score_built(b, k, catch=catch) for b, k in zip(builders, arch_keys))
        for result in computed:
            if result.ok:
                self._computed += 1
                self._store(result)
            yield result

    def _store(self, result: CandidateResult) -> None:
        if self.cache is None or result.values is None:
            return
        name = self._space().name
        keys = {n: self.config.cache_key(name, result.arch, n) for n in result.values}
        self.cache.put_many(
            {keys[n]: v for n, v in result.values.items()},
            timing=(keys[min(self.proxies)], self.group, result.seconds),
        )

    def fitness(self, values: Mapping[str, float] | None, proxy: str | None = None) -> float:
        """Returns ``proxy``'s value oriented so that higher is better; −inf for NaN or a failed candidate."""
        name = proxy or self.proxies[0]
        if values is None:
            return -math.inf
        value = float(values[name])
        if math.isnan(value):
            return -math.inf
        spec = next(s for s in self.plan.specs if s.name == name)
        return value if spec.higher_is_better else -value

    def __repr__(self) -> str:
        return (
            f"Scorer(proxies={self.proxies}, device={str(self.device)!r}, workers={self.workers}, "
            f"config={self.config!r})"
        )
