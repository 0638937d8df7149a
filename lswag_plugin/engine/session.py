"""``Scorer``: the one scoring path — one configuration, its batch on the device, the score cache, and
many candidates (some in flight).

Where :func:`~lswag_plugin.score` is one call, a :class:`Scorer` is a session: the plan and the batch
(loaded, converted and placed on the device) are made once and reused for every candidate, networks the
scorer builds itself are scored in place (no private copy: nobody else holds them), and with
``workers=N`` N candidates are scored at once, each in a worker process of its own
(:mod:`lswag_plugin.engine.workers`). Every host (search, bench, compare, band, the Optuna objective,
pruner and sampler, the NNI evaluator, ``lswag score``, the benchmarks) scores through one.

The cache rule, the same for every host: a candidate named by a :class:`CandidateKey` is looked up
first (only the proxies the cache lacks are computed); what the engine computed for it is stored in one
transaction — the value of every registered proxy it computed (the requested ones and, e.g., a LIBRA
model's members), each proxy's sub-scores (``lswag.lambda``) under the proxy's key, and the seconds the
candidate took — under :meth:`ScoringConfig.cache_key`; a failed candidate stores nothing.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol

from torch import nn

from lswag_plugin.cache import CacheKey, ScoreCache
from lswag_plugin.engine.candidate import (
    CandidateKey,
    CandidateResult,
    CandidateScorer,
)
from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.engine.scores import Scores
from lswag_plugin.engine.workers import WorkerPool
from lswag_plugin.errors import LswagError

__all__ = ["BuildsNetworks", "CandidateKey", "CandidateResult", "Scorer"]


class BuildsNetworks(Protocol):
    """What a scorer needs of a search space (``lswag_plugin.spaces.SearchSpace`` has it)."""

    name: str
    default_resolution: int

    def encode(self, arch: Any) -> str: ...

    def decode(self, text: str) -> Any: ...

    def build_seeded(
        self, arch: Any, *, seed: int, num_classes: int = 10, resolution: int | None = None
    ) -> nn.Module: ...


class Scorer(CandidateScorer):
    """Scores many candidates with one :class:`ScoringConfig` and one set of proxies, through the cache.

    Args:
        proxies: Proxy names (``"lswag"``, ``"lswag,nwot"``, ``["zico", "swap"]`` or ``"all"``).
        config: The scoring settings (default ``ScoringConfig()``).
        space: The search space whose architectures :meth:`score_archs` builds; with one, the config's
            resolution defaults to the space's and ``num_classes`` to 10.
        cache: A :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` (the default cache file) or None.
        workers: Candidates in flight in :meth:`map`/:meth:`score_archs`: 1 scores in this process; N > 1
            starts N worker processes (each with its own torch threads and CUDA context) on first use —
            in a script, under ``if __name__ == "__main__":`` (they import the main module again).
            Cache reads and writes stay in this process, so a worker that dies writes nothing.
        **settings: Fields of :class:`ScoringConfig` overriding ``config``'s.

    Raises:
        UnknownProxy: A proxy name is not registered.
        BadDevice: The device is not available (checked here, before any work).

    Example:
        >>> from torch import nn
        >>> from lswag_plugin import Scorer
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
        super().__init__(proxies, config)
        self.space = space
        self.cache = ScoreCache() if cache == "auto" else cache
        self.workers = int(workers)
        self._pool: WorkerPool | None = None
        self._partials: dict[frozenset[str], Scorer] = {}
        self._computed = 0

    @property
    def computed(self) -> int:
        """Candidates the engine scored (cache misses) in this session, partial ones included."""
        return self._computed + sum(p._computed for p in self._partials.values())

    @property
    def group(self) -> str:
        """The requested proxies as one name (sorted, joined by ``+``): the key of stored timings."""
        return "+".join(sorted(self.proxies))

    # -- the cache -----------------------------------------------------------------------------------
    def cache_key(self, key: CandidateKey, proxy: str) -> CacheKey:
        """Returns the cache key of ``proxy``'s score of the candidate ``key``."""
        extra = dict(key.extra) if key.extra is not None else None
        return self.config.cache_key(key.namespace, key.arch, proxy, extra=extra)

    def lookup(self, key: CandidateKey) -> CandidateResult | None:
        """Returns the cached result of the candidate ``key`` if the cache holds every requested
        proxy (with the sub-scores it holds), else None."""
        found = self._cached(key)
        if found is None or len(found[0]) < len(self.proxies):
            return None
        return CandidateResult(key.arch, found[0], components=found[1], cached=True)

    def _cached(self, key: CandidateKey | None) -> tuple[dict[str, float], dict[str, float]] | None:
        """The cached values of the requested proxies (those the cache holds) and their sub-scores."""
        if key is None or self.cache is None:
            return None
        wanted = {n: self.cache_key(key, n) for n in self.proxies}
        got = self.cache.get_many(list(wanted.values()))
        values = {n: got[k] for n, k in wanted.items() if k in got}
        components = self.cache.get_components([wanted[n] for n in values]) if values else {}
        return values, components

    def _store(self, key: CandidateKey, result: CandidateResult) -> None:
        """Stores a computed candidate: every registered proxy's value, the sub-scores, the seconds."""
        if self.cache is None or result.values is None:
            return
        keys = {n: self.cache_key(key, n) for n in result.values}
        items = {keys[n]: v for n, v in result.values.items()}
        for name, value in result.components.items():
            owner = keys.get(name.split(".", 1)[0])
            if owner is not None and name not in keys:
                items[dataclasses.replace(owner, proxy=name)] = value
        self.cache.put_many(items, timing=(keys[min(self.proxies)], self.group, result.seconds))

    def timing_key(self, arch_key: str) -> CacheKey:
        """Returns the key the seconds of scoring ``arch_key`` are stored under (with :attr:`group`)."""
        return self.config.cache_key(self._space().name, arch_key, min(self.proxies))

    def cache_keys(self, arch_key: str, names: Iterable[str]) -> dict[str, CacheKey]:
        """Returns the cache key of each proxy in ``names`` for an encoded architecture of the space."""
        return self.config.cache_keys(self._space().name, arch_key, names)

    # -- candidates ----------------------------------------------------------------------------------
    def evaluate(
        self,
        build: Callable[[], nn.Module],
        *,
        key: CandidateKey | None = None,
        label: str | None = None,
        catch: bool = True,
    ) -> CandidateResult:
        """Returns the result of one candidate: from the cache (with ``key``), else built and scored.

        ``build()`` hands its network over (scored in place, without a copy); it is not called on a
        cache hit. See :meth:`map`.
        """
        return self.map([build], [label] if label is not None else None, keys=[key], catch=catch)[0]

    def map(
        self,
        builders: Sequence[Callable[[], nn.Module]],
        labels: Sequence[str] | None = None,
        *,
        keys: Sequence[CandidateKey | None] | None = None,
        catch: bool = True,
    ) -> list[CandidateResult]:
        """Returns the result of each candidate, in input order: built with its builder and scored, or
        read from the cache.

        Candidates with a key go through the cache first: one the cache holds completely is not built;
        one whose cache holds some of the proxies is scored with the others only (a later run that adds
        a proxy to a bench computes just that one); candidates with the same key are scored once. Each
        computed candidate is stored (see the module docstring). With ``workers > 1`` the builders
        (picklable callables, e.g. ``functools.partial`` of a space's ``build_seeded``) run in the
        worker processes, ``workers`` at a time; a candidate whose worker dies fails alone, with the
        reason.

        Args:
            builders: ``build() -> nn.Module`` per candidate.
            labels: A label per candidate (default: the key's architecture, else the index).
            keys: A :class:`CandidateKey` per candidate (None: not cached).
            catch: True (default): a candidate that fails with a typed error or out of memory fails
                alone, with the reason in its result; False: a failure raises its own error when the
                candidates are scored in this process (those scored before it are stored), or an
                :class:`LswagError` naming it after every candidate is scored, with workers.

        Raises:
            LswagError: With ``catch=False``, a failed candidate's error.
            CandidateCrashed: A candidate raised a bug (not a typed error) in a worker process.
        """
        n = len(builders)
        keys = list(keys) if keys is not None else [None] * n
        if len(keys) != n:
            raise ValueError(f"{n} builders but {len(keys)} keys")
        labels = (
            list(labels)
            if labels is not None
            else [k.arch if k is not None else str(i) for i, k in enumerate(keys)]
        )
        results: list[CandidateResult | None] = [None] * n
        first: dict[CandidateKey, int] = {}  # a repeated key is scored once
        found: dict[int, tuple[dict[str, float], dict[str, float]]] = {}
        todo: dict[frozenset[str], list[int]] = {}  # the proxies still to compute → candidates
        for i, key in enumerate(keys):
            if key is not None:
                if key in first:
                    continue
                first[key] = i
            cached = self._cached(key)
            values, components = cached or ({}, {})
            if cached is not None and len(values) == len(self.proxies):
                results[i] = CandidateResult(labels[i], values, components=components, cached=True)
                continue
            found[i] = (values, components)
            todo.setdefault(frozenset(self.proxies) - set(values), []).append(i)
        for names, indices in todo.items():
            scorer = self if len(names) == len(self.proxies) else self._partial(names)
            computed = scorer._compute(
                [builders[i] for i in indices], [labels[i] for i in indices], catch=catch
            )
            for i, result in zip(indices, computed):  # each stored as soon as it is scored
                if result.ok:
                    scorer._computed += 1
                    if keys[i] is not None:
                        scorer._store(keys[i], result)  # type: ignore[arg-type]
                    values, components = found[i]
                    result.values = {**values, **(result.values or {})}
                    result.components = {**components, **result.components}
                results[i] = result
        for i, key in enumerate(keys):
            if results[i] is None:  # a repeat of an earlier key
                results[i] = dataclasses.replace(results[first[key]], arch=labels[i])  # type: ignore[index,arg-type]
        done: list[CandidateResult] = results  # type: ignore[assignment]
        failed = next((r for r in done if not r.ok), None)
        if failed is not None and not catch:
            raise LswagError(f"candidate {failed.arch!r} failed: {failed.error}")
        return done

    def _compute(
        self, builders: Sequence[Callable[[], nn.Module]], labels: Sequence[str], *, catch: bool
    ) -> Iterator[CandidateResult]:
        """Builds and scores each candidate (no cache), yielding the results in order: in worker
        processes when there are workers, else one at a time here (a failure with ``catch=False``
        then raises its own error)."""
        if self.workers > 1 and len(builders) > 1:
            if self._pool is None:
                self._pool = WorkerPool(self.workers, self.proxies, self.config)
            yield from self._pool.run(list(zip(builders, labels)))
            return
        for build, label in zip(builders, labels):
            yield self.score_built(build, label, catch=catch)

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

    def score_archs(self, archs: Sequence[Any], *, catch: bool = True) -> list[CandidateResult]:
        """Returns one :class:`CandidateResult` per architecture of the space, in input order.

        :meth:`map` over the space's builds, each keyed by the space's name and the architecture's
        canonical string (``space.encode``).
        """
        space = self._space()
        codes = [space.encode(a) for a in archs]
        return self.map(
            [self.builder(space.decode(c)) for c in codes],
            codes,
            keys=[CandidateKey(space.name, c) for c in codes],
            catch=catch,
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
