"""The default fitness of a search: one zero-cost proxy (or LIBRA) computed by the engine, cached on disk."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lswag_plugin.spaces import SearchSpace

__all__ = ["ProxyEvaluator"]


class ProxyEvaluator:
    """Scores architectures with ``lswag_plugin.score``: builds each network, returns the oriented proxy.

    Every network is built right after ``torch.manual_seed(seed)`` and scored on the same batch, so a
    score depends only on (space, architecture, proxy, batch, seed, resolution, options): that is the
    :class:`~lswag_plugin.cache.CacheKey`. With a cache, the proxy's value *and* every registered proxy
    the engine computed with it (e.g. LIBRA's members) are stored, so a later run with one of those
    proxies is free. The returned fitness is oriented (negated for ``"min"`` proxies); NaN becomes −inf.

    Args:
        space: The search space (builds the networks).
        proxy: A registered proxy name (``"lswag"``, ``"libra"``, ...).
        data: The batch source (see :func:`lswag_plugin.data.load_batch`); None for the default photos.
        seed: Seed of the batch, the initialisation and the passes.
        batch_size: Samples in the batch (64).
        minibatches: K minibatches of the batch (2).
        resolution: Input resolution (default: the space's).
        num_classes: Classes of the built networks.
        device: Scoring device (``"cpu"``, ``"cuda"``, ``"auto"``).
        options: Per-proxy options (e.g. ``{"libra": {"model": "libra.json"}}``).
        cache: A :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` (the default cache file) or None.

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
        *,
        data: Any = None,
        seed: int = 0,
        batch_size: int = 64,
        minibatches: int = 2,
        resolution: int | None = None,
        num_classes: int = 10,
        device: str = "cpu",
        options: Mapping[str, Mapping[str, Any]] | None = None,
        cache: Any = None,
    ) -> None:
        from lswag_plugin.proxies import get_proxy

        self.space = space
        self.spec = get_proxy(proxy)
        self.proxy = self.spec.name
        self.seed = int(seed)
        self.batch_size = batch_size
        self.minibatches = minibatches
        self.resolution = resolution if resolution is not None else space.default_resolution
        self.num_classes = num_classes
        self.device = device
        self.options = {k: dict(v) for k, v in (options or {}).items()}
        self.data = data
        self._batch: Any = None
        self._fingerprint: str | None = None
        self._libra_tag: str | None = None
        if cache == "auto":
            from lswag_plugin.cache import ScoreCache

            cache = ScoreCache()
        self.cache = cache
        #: Architectures actually scored by the engine (cache misses), for reports and tests.
        self.computed = 0

    def load(self) -> None:
        """Loads the batch (once) and its fingerprint, the ``data`` field of cache keys."""
        if self._batch is None:
            from lswag_plugin.data import batch_fingerprint, load_batch

            self._batch = load_batch(
                self.data, batch_size=self.batch_size, seed=self.seed, resolution=self.resolution
            )
            self._fingerprint = batch_fingerprint(*self._batch)

    def _proxy_tag(self, name: str) -> str:
        """The cache name of a proxy: LIBRA's includes a hash of its model file (different fit, different score)."""
        if name != "libra":
            return name
        if self._libra_tag is None:
            from lswag_plugin.proxies.libra import model_path

            path = Path(model_path(self.options.get("libra", {})))
            self._libra_tag = f"libra:{hashlib.sha256(path.read_bytes()).hexdigest()[:12]}"
        return self._libra_tag

    def cache_key(self, arch_key: str, name: str) -> Any:
        """Returns the :class:`~lswag_plugin.cache.CacheKey` of proxy ``name`` for an encoded architecture."""
        from lswag_plugin.cache import CacheKey, cache_version

        self.load()
        options = {k: v for k, v in self.options.items() if k != "libra"}
        return CacheKey(
            space=self.space.name,
            arch=arch_key,
            proxy=self._proxy_tag(name),
            data=self._fingerprint or "",
            seed=self.seed,
            resolution=self.resolution,
            version=cache_version({"minibatches": self.minibatches, "options": options}),
        )

    def score_cell(self, arch_key: str, proxies: Sequence[str]) -> dict[str, float]:
        """Scores one encoded architecture with ``proxies`` in one engine call, with this evaluator's
        batch, seed and settings (the network is built seeded, the global RNG untouched).

        Returns every proxy's value and the engine's components that are registered proxies
        themselves (e.g. a ``libra`` member), so a cache can keep them all.
        """
        import lswag_plugin
        from lswag_plugin.proxies import available

        self.load()
        model = self.space.build_seeded(
            self.space.decode(arch_key),
            seed=self.seed,
            num_classes=self.num_classes,
            resolution=self.resolution,
        )
        scores = lswag_plugin.score(
            model,
            self._batch,
            list(proxies),
            device=self.device,
            seed=self.seed,
            batch_size=None,
            minibatches=self.minibatches,
            options=self.options,
        )
        registered = {p.name for p in available()}
        extra = {n: v for n, v in scores.components.items() if n in registered}
        return {n: float(v) for n, v in {**extra, **scores}.items()}

    def raw_scores(self, archs: Sequence[Any]) -> list[float]:
        """Returns the proxy's raw value for each architecture (cache first, then the engine)."""
        self.load()
        keys = [self.space.encode(a) for a in archs]
        found: dict[str, float] = {}
        if self.cache is not None:
            wanted = {self.cache_key(k, self.proxy): k for k in keys}
            for cache_key, value in self.cache.get_many(list(wanted)).items():
                found[wanted[cache_key]] = value
        for arch_key in keys:
            if arch_key in found:
                continue
            values = self.score_cell(arch_key, [self.proxy])
            self.computed += 1
            found[arch_key] = values[self.proxy]
            if self.cache is not None:
                self.cache.put_many({self.cache_key(arch_key, n): v for n, v in values.items()})
        return [found[k] for k in keys]

    def __call__(self, archs: Sequence[Any]) -> list[float]:
        """Returns the oriented fitness (higher is better; NaN → −inf) of each architecture."""
        sign = 1.0 if self.spec.higher_is_better else -1.0
        out = []
        for value in self.raw_scores(archs):
            value = float(value)
            out.append(-math.inf if math.isnan(value) else sign * value)
        return out
