"""Evaluators of a comparison: zero-cost proxies scored in one shared pass (cached), and the table oracle."""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Mapping, Sequence
from typing import Any

from lswag_plugin.errors import LswagError
from lswag_plugin.spaces import SearchSpace

__all__ = ["CompareError", "TableOracle", "ZeroCostGrid"]

#: Proxies scored on their own (no pass over the batch): charging them a shared pass would be unfair.
_ALONE = frozenset({"params", "flops"})


class CompareError(LswagError):
    """A comparison that cannot run (unknown strategy or evaluator, a cell missing from the table...)."""


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
                raise CompareError(
                    f"architecture {key!r} is not in the accuracy table; use a full table"
                )
            out.append((float(self.accuracy[key]), 0.0))
        return out


class ZeroCostGrid:
    """Scores zero-cost proxies for a comparison: every proxy that needs passes in one engine call per cell.

    A cell missing from the cache is built once (after ``torch.manual_seed(seed)``, as
    :class:`~lswag_plugin.search.ProxyEvaluator` does) and scored with all the grid's pass-based proxies
    together; each value (and every registered member the engine computed, e.g. LIBRA's) goes into the
    cache under the exact key a ``ProxyEvaluator`` of that proxy uses, plus the seconds of the pass
    (``seconds:<group>``). ``params``/``flops`` are scored on their own. So ``lswag search`` and a later
    comparison reuse these scores, and an interrupted comparison recomputes nothing already scored.

    Each evaluation is charged the measured seconds of the pass that computed it (the shared pass for
    pass-based proxies); cells scored by an earlier run that did not record seconds are charged the median
    measured seconds of their group (counted in :attr:`estimated`).

    Args:
        space: The search space.
        proxies: The zero-cost evaluators of the grid.
        cache: A :class:`~lswag_plugin.cache.ScoreCache`.
        **evaluator_kwargs: Passed to every :class:`~lswag_plugin.search.ProxyEvaluator` (data, seed,
            batch_size, minibatches, resolution, num_classes, device, options).

    Example:
        >>> from lswag_plugin.cache import ScoreCache
        >>> from lswag_plugin.spaces import get_space
        >>> grid = ZeroCostGrid(get_space("nb201"), ["params"], cache=ScoreCache(":memory:"), batch_size=4)
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        >>> grid.evaluator("params")([arch])[0][0]
        1288506.0
    """

    def __init__(
        self, space: SearchSpace, proxies: Sequence[str], *, cache: Any, **evaluator_kwargs: Any
    ) -> None:
        from lswag_plugin.search import ProxyEvaluator

        self.space = space
        self.cache = cache
        self.evaluators = {
            p: ProxyEvaluator(space, p, cache=cache, **evaluator_kwargs) for p in proxies
        }
        self.shared = [p for p in self.evaluators if p not in _ALONE]
        #: Cells scored by the engine in this process, per group.
        self.computed: dict[str, int] = {}
        #: Evaluations charged an estimated (median) cost because no seconds were recorded.
        self.estimated = 0
        self._medians: dict[str, list[float]] = {}

    def _group(self, proxy: str) -> list[str]:
        return [proxy] if proxy in _ALONE else self.shared

    def _seconds_key(self, arch_key: str, group: list[str]) -> Any:
        return self.evaluators[group[0]].cache_key(arch_key, "seconds:" + "+".join(sorted(group)))

    def _score_group(self, group: list[str], arch_keys: list[str]) -> None:
        """Scores ``arch_keys`` with every proxy of ``group`` in one engine call each; fills the cache."""
        first = self.evaluators[group[0]]
        first.load()  # the batch is read before the clock starts
        for arch_key in arch_keys:
            started = time.perf_counter()
            values = first.score_cell(arch_key, group)
            seconds = time.perf_counter() - started
            self.computed["+".join(group)] = self.computed.get("+".join(group), 0) + 1
            items = {self._seconds_key(arch_key, group): seconds}
            for name, value in values.items():
                owner = self.evaluators.get(name, first)
                items[owner.cache_key(arch_key, name)] = value
            self.cache.put_many(items)

    def _stored_seconds(self, group: list[str]) -> list[float]:
        """Returns every seconds value the cache holds for ``group`` (any architecture)."""
        probe = self._seconds_key("", group)
        keys = [
            k
            for k in self.cache
            if k.proxy == probe.proxy
            and k.space == probe.space
            and k.data == probe.data
            and k.seed == probe.seed
            and k.version == probe.version
        ]
        return [float(v) for v in self.cache.get_many(keys).values()]

    def evaluator(self, proxy: str) -> Any:
        """Returns ``evaluate(archs) -> [(fitness, seconds charged), ...]`` for ``proxy``."""
        ev = self.evaluators[proxy]
        group = self._group(proxy)
        sign = 1.0 if ev.spec.higher_is_better else -1.0

        def evaluate(archs: Sequence[Any]) -> list[tuple[float, float]]:
            keys = [self.space.encode(a) for a in archs]
            wanted = {ev.cache_key(k, proxy): k for k in keys}
            found = {wanted[c]: v for c, v in self.cache.get_many(list(wanted)).items()}
            missing = list(dict.fromkeys(k for k in keys if k not in found))
            if missing:
                self._score_group(group, missing)
                found.update({wanted[c]: v for c, v in self.cache.get_many(list(wanted)).items()})
            secs_keys = {self._seconds_key(k, group): k for k in keys}
            secs = {secs_keys[c]: v for c, v in self.cache.get_many(list(secs_keys)).items()}
            pool = self._medians.setdefault("+".join(group), [])
            if not pool and len(secs) < len(keys):
                pool.extend(self._stored_seconds(group))
            pool.extend(secs.values())
            out = []
            for k in keys:
                value = float(found[k])
                fit = -math.inf if math.isnan(value) else sign * value
                if k in secs:
                    cost = float(secs[k])
                else:
                    self.estimated += 1
                    cost = statistics.median(pool) if pool else math.nan
                out.append((fit, cost))
            return out

        return evaluate
