"""The default fitness of a search: one zero-cost proxy (or LIBRA) computed by the engine, cached on disk."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lswag_plugin.cache import CacheKey
from lswag_plugin.engine import Scorer, ScoringConfig
from lswag_plugin.engine.registry import get_proxy
from lswag_plugin.spaces import SearchSpace

__all__ = ["ProxyEvaluator"]


class ProxyEvaluator:
    """Scores architectures with the engine: builds each network, returns the oriented proxy.

    Every network is built from the config's seed and scored on the same batch, so a score depends only
    on the architecture and the :class:`~lswag_plugin.engine.ScoringConfig`: its
    :meth:`~lswag_plugin.engine.ScoringConfig.cache_key` is the cache key, the same one bench and
    compare use. With a cache, the proxy's value *and* every registered proxy the engine computed with it
    (e.g. LIBRA's members) are stored, so a later run with one of those proxies is free. The returned
    fitness is oriented (negated for ``"min"`` proxies); NaN becomes −inf.

    Args:
        space: The search space (builds the networks).
        proxy: A registered proxy name (``"lswag"``, ``"libra"``, ...).
        config: The scoring settings; its resolution defaults to the space's and ``num_classes`` to 10.
        cache: A :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` (the default cache file) or None.
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s
            (``data``, ``seed``, ``batch_size``, ``num_classes``, ``device``, ``options``, ...).

    Example:
        >>> from lswag_plugin.search import ProxyEvaluator
        >>> from lswag_plugin.spaces import get_space
        >>> space = get_space("nb201")
        >>> evaluate = ProxyEvaluator(space, "params", batch_size=4)
        >>> arch = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
        >>> evaluate([arch]) == [float(space.num_params(arch))]
        True
    """

    def __init__(
        self,
        space: SearchSpace,
        proxy: str,
        config: ScoringConfig | None = None,
        *,
        cache: Any = None,
        **settings: Any,
    ) -> None:
        self.space = space
        self.spec = get_proxy(proxy)
        self.proxy = self.spec.name
        self.scorer = Scorer([self.proxy], config, space=space, cache=cache, **settings)

    @property
    def config(self) -> ScoringConfig:
        """The scoring settings (the space's resolution and 10 classes filled in)."""
        return self.scorer.config

    @property
    def cache(self) -> Any:
        """The score cache (or None)."""
        return self.scorer.cache

    @property
    def computed(self) -> int:
        """Architectures actually scored by the engine (cache misses), for reports and tests."""
        return self.scorer.computed

    def cache_key(self, arch_key: str, name: str | None = None) -> CacheKey:
        """Returns the cache key of proxy ``name`` (default: this evaluator's) for an encoded architecture."""
        return self.config.cache_key(self.space.name, arch_key, name or self.proxy)

    def raw_scores(self, archs: Sequence[Any]) -> list[float]:
        """Returns the proxy's raw value for each architecture (cache first, then the engine).

        Raises:
            LswagError: An architecture cannot be built or scored (the message names why).
        """
        results = self.scorer.score_archs(archs, catch=False)
        return [float(r.values[self.proxy]) for r in results if r.values is not None]

    def __call__(self, archs: Sequence[Any]) -> list[float]:
        """Returns the oriented fitness (higher is better; NaN → −inf) of each architecture."""
        sign = 1.0 if self.spec.higher_is_better else -1.0
        out = []
        for value in self.raw_scores(archs):
            out.append(-math.inf if math.isnan(value) else sign * value)
        return out
