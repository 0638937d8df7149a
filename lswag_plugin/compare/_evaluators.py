"""Evaluators of a comparison: zero-cost proxies scored in one shared pass (cached), and the table oracle."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from typing import Any

from lswag_plugin.engine import Scorer, ScoringConfig
from lswag_plugin.engine.registry import get_proxy
from lswag_plugin.errors import CompareError
from lswag_plugin.spaces import SearchSpace

__all__ = ["CompareError", "TableOracle", "ZeroCostGrid"]

#: Proxies scored on their own (no pass over the batch): charging them a shared pass would be unfair.
_ALONE = frozenset({"params", "flops"})


def not_in_table(key: str) -> CompareError:
    """The error for an architecture the accuracy table lacks (the table oracle, tracks, trainings)."""
    return CompareError(
        f"architecture {key!r} is not in the accuracy table; use a full table, or restrict the "
        "search to the table (a PoolSpace; lswag compare --pool table)"
    )


class TableOracle:
    """The reference evaluator: an architecture's trained accuracy looked up in a table (no network built).

    Args:
        space: The search space (canonical keys of the architectures).
        accuracy: Canonical architecture key → trained accuracy.
        name: The evaluator's name in reports.

    Example:
        >>> from lswag_plugin.spaces import get_space
        >>> space = get_space("nb201")
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        >>> TableOracle(space, {arch: 93.5})([arch])
        [(93.5, 0.0)]
    """

    def __init__(
        self, space: SearchSpace, accuracy: Mapping[str, float], *, name: str = "oracle"
    ) -> None:
        self.space = space
        self.accuracy = dict(accuracy)
        self.name = name

    def __call__(self, archs: Sequence[Any]) -> list[tuple[float, float]]:
        """Returns ``(fitness, seconds charged)`` per architecture (a look-up costs nothing)."""
        out = []
        for arch in archs:
            key = self.space.encode(arch)
            if key not in self.accuracy:
                raise not_in_table(key)
            out.append((float(self.accuracy[key]), 0.0))
        return out


class ZeroCostGrid:
    """Scores zero-cost proxies for a comparison: every proxy that needs passes in one engine call per cell.

    A cell missing from the cache is built once (from the config's seed, as
    :class:`~lswag_plugin.search.ProxyEvaluator` does) and scored with all the grid's pass-based proxies
    together by one :class:`~lswag_plugin.engine.Scorer`; each value (and every registered member the
    engine computed, e.g. LIBRA's) goes into the cache under the one key recipe
    (:meth:`~lswag_plugin.engine.ScoringConfig.cache_key`) that search and bench use too, with the
    seconds of that engine call in the cache's timings. ``params``/``flops`` are scored on their own. So
    ``lswag search`` and a later comparison reuse these scores, and an interrupted comparison recomputes
    nothing already scored.

    Each evaluation is charged the measured seconds of the call that computed it (the shared call for
    pass-based proxies); cells scored by an earlier run that stored no seconds (e.g. by bench alone with
    other proxies) are charged the median stored seconds of their group (counted in :attr:`estimated`).

    Args:
        space: The search space.
        proxies: The zero-cost evaluators of the grid.
        cache: A :class:`~lswag_plugin.cache.ScoreCache`.
        config: The scoring settings (resolution defaults to the space's, ``num_classes`` to 10).
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s.

    Example:
        >>> from lswag_plugin.cache import ScoreCache
        >>> from lswag_plugin.spaces import get_space
        >>> grid = ZeroCostGrid(get_space("nb201"), ["params"], cache=ScoreCache(":memory:"), batch_size=4)
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        >>> grid.evaluator("params")([arch])[0][0]
        1288506.0
    """

    def __init__(
        self,
        space: SearchSpace,
        proxies: Sequence[str],
        *,
        cache: Any,
        config: ScoringConfig | None = None,
        **settings: Any,
    ) -> None:
        if cache is None:
            raise CompareError(
                "a ZeroCostGrid needs a score cache (ScoreCache(':memory:') will do)"
            )
        self.space = space
        self.cache = cache
        names = [get_proxy(p).name for p in proxies]
        shared = [p for p in names if p not in _ALONE]
        self._scorers: dict[str, Scorer] = {}
        if shared:
            scorer = Scorer(shared, config, space=space, cache=cache, **settings)
            self._scorers.update(dict.fromkeys(shared, scorer))
        for p in names:
            if p in _ALONE:
                self._scorers[p] = Scorer([p], config, space=space, cache=cache, **settings)
        #: Evaluations charged an estimated (median) cost because no seconds were recorded.
        self.estimated = 0
        self._medians: dict[str, list[float]] = {}

    @property
    def computed(self) -> dict[str, int]:
        """Cells scored by the engine in this process, per group of proxies."""
        scorers = dict.fromkeys(self._scorers.values())
        return {s.group: s.computed for s in scorers if s.computed}

    def evaluator(self, proxy: str) -> Any:
        """Returns ``evaluate(archs) -> [(fitness, seconds charged), ...]`` for ``proxy``."""
        name = get_proxy(proxy).name
        scorer = self._scorers[name]

        def evaluate(archs: Sequence[Any]) -> list[tuple[float, float]]:
            results = scorer.score_archs(archs, catch=False)
            keys = {r.arch: scorer.timing_key(r.arch) for r in results}
            secs = self.cache.get_timings(list(keys.values()), scorer.group)
            pool = self._medians.setdefault(scorer.group, [])
            if not pool and len(secs) < len(set(keys.values())):
                probe = next(iter(keys.values()))
                pool.extend(self.cache.timings_like(probe, scorer.group))
            pool.extend(secs.values())
            out = []
            for r in results:
                fit = scorer.fitness(r.values, name)
                if keys[r.arch] in secs:
                    cost = float(secs[keys[r.arch]])
                else:
                    self.estimated += 1
                    cost = statistics.median(pool) if pool else math.nan
                out.append((fit, cost))
            return out

        return evaluate
