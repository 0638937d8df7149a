"""``ScoringConfig``: every setting of a score in one frozen object, its batch, and its cache key.

Every host (the Optuna objective, the NNI evaluator, search, bench, compare, band and the CLI) takes one
:class:`ScoringConfig` instead of declaring the settings of :func:`~lswag_plugin.score` again, and every
score cache key comes from :meth:`ScoringConfig.cache_key`, so a setting that changes a score changes
its key in every host alike.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch

from lswag_plugin.cache import CacheKey, cache_version
from lswag_plugin.data import batch_fingerprint, load_batch
from lswag_plugin.engine.band import LayerBand
from lswag_plugin.engine.checks import PRECISIONS, autocast_dtype_of, resolve_device
from lswag_plugin.engine.registry import get_proxy

__all__ = ["ScoringConfig"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

#: Canonical precision names: aliases map to these, and full precision is None.
_PRECISION_NAMES = {
    "float32": None,
    "fp32": None,
    "bfloat16": "bfloat16",
    "bf16": "bfloat16",
    "float16": "float16",
    "fp16": "float16",
}


def _frozen_options(options: Mapping[str, Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    if options is None:
        return {}
    if not isinstance(options, Mapping) or not all(
        isinstance(v, Mapping) for v in options.values()
    ):
        raise TypeError(
            "options maps a proxy name to its options, e.g. {'swap_reg': {'mu': 500}}, "
            f"got {options!r}"
        )
    return {str(k): dict(v) for k, v in options.items()}


@dataclasses.dataclass(frozen=True)
class ScoringConfig:
    """The settings of a score: the batch, how it is split, the device, the precision, the band, the seed.

    Args:
        data: ``(x, y)`` tensors, a DataLoader, a ``.npz`` path, an image folder, or None for the
            photographs shipped by scikit-image (see :func:`lswag_plugin.data.load_batch`).
        batch_size: Samples in the batch (64 as in the paper); None keeps the whole source.
        minibatches: K, the minibatches the batch is split into (Λ and ZiCo take statistics across
            them); raised to a proxy's minimum where one needs more.
        resolution: Resize images to this square size (None keeps the source's).
        num_classes: Classes of the networks scored (checked against the output width; hosts that build
            networks build them with this many outputs).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:1"`` or ``"auto"``/None (CUDA when present).
        precision: None/``"float32"`` (default) or ``"bfloat16"``/``"float16"`` (autocast the shared
            forwards).
        layer_band: L-SWAG's band [l̂, L̂] in percentile bins: ``(low, high)``, ``"low:high"`` or None
            (all bins).
        seed: Seeds the batch subset, the initialisation of networks a host builds and every random
            draw of the passes.
        options: Per-proxy options, e.g. ``{"swap_reg": {"mu": 500}, "libra": {"model": "libra.json"}}``.
        threads: torch CPU threads while scoring (None: torch's default; 1 is fastest for small models
            on a shared CPU).
        loss_fn: ``loss_fn(output, labels)``; None for cross-entropy on the logits.

    Raises:
        ValueError: A size out of range or an unknown precision.
        TypeError: ``options`` is not a mapping of mappings.

    Example:
        >>> import torch
        >>> from lswag_plugin.engine import ScoringConfig
        >>> x, y = torch.rand(8, 3, 8, 8), torch.arange(8) % 4
        >>> config = ScoringConfig(data=(x, y), num_classes=4, device="cpu")
        >>> tuple(config.batch()[0].shape)
        (8, 3, 8, 8)
        >>> config.cache_key("nb201", "some-arch", "nwot") == config.cache_key("nb201", "some-arch", "nwot")
        True
        >>> config.replace(num_classes=10).cache_key("nb201", "some-arch", "nwot") == config.cache_key(
        ...     "nb201", "some-arch", "nwot")
        False
    """

    data: Any = None
    batch_size: int | None = 64
    minibatches: int = 2
    resolution: int | None = None
    num_classes: int | None = None
    device: str | None = "auto"
    precision: str | None = None
    layer_band: LayerBand | tuple[int, int] | str | None = None
    seed: int = 0
    options: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    threads: int | None = None
    loss_fn: LossFn | None = None
    _loaded: dict[str, Any] = dataclasses.field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (or None), got {self.batch_size}")
        if self.minibatches < 1:
            raise ValueError(f"minibatches must be >= 1, got {self.minibatches}")
        if self.batch_size is not None and self.batch_size < self.minibatches:
            raise ValueError(
                f"batch_size ({self.batch_size}) must be >= minibatches ({self.minibatches})"
            )
        if self.resolution is not None and self.resolution < 1:
            raise ValueError(f"resolution must be a positive size, got {self.resolution}")
        if self.num_classes is not None and self.num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {self.num_classes}")
        if self.threads is not None and self.threads < 1:
            raise ValueError(f"threads must be >= 1 (or None), got {self.threads}")
        if self.precision is not None and self.precision not in _PRECISION_NAMES:
            raise ValueError(
                f"precision must be one of {', '.join(PRECISIONS)} (or None), got {self.precision!r}"
            )
        if self.device not in (None, "auto") and not isinstance(self.device, torch.device):
            try:
                torch.device(self.device)
            except (RuntimeError, TypeError) as exc:
                raise ValueError(
                    f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}"
                ) from exc
        set_ = object.__setattr__
        if isinstance(self.device, torch.device):
            set_(self, "device", str(self.device))
        set_(self, "precision", _PRECISION_NAMES.get(self.precision) if self.precision else None)
        set_(self, "layer_band", LayerBand.parse(self.layer_band))
        set_(self, "options", _frozen_options(self.options))
        set_(self, "_loaded", {"lock": threading.Lock()})

    @classmethod
    def of(cls, config: ScoringConfig | None = None, /, **settings: Any) -> ScoringConfig:
        """Returns ``config`` (default ``ScoringConfig()``) with ``settings`` (its fields) replaced.

        How hosts accept both a config and the keyword arguments of :func:`~lswag_plugin.score`.

        Raises:
            TypeError: A setting that is not a field of :class:`ScoringConfig`; the message lists them.

        Example:
            >>> ScoringConfig.of(None, batch_size=16).batch_size
            16
        """
        names = [f.name for f in dataclasses.fields(cls) if f.init]
        unknown = sorted(set(settings) - set(names))
        if unknown:
            raise TypeError(
                f"unknown scoring setting(s) {', '.join(unknown)}; ScoringConfig has: {', '.join(names)}"
            )
        base = config if config is not None else cls()
        if not isinstance(base, ScoringConfig):
            raise TypeError(f"config must be a ScoringConfig, got {type(base).__name__}")
        return base.replace(**settings) if settings else base

    # -- derived settings ----------------------------------------------------------------------------
    @property
    def band(self) -> LayerBand:
        """The layer band as a :class:`LayerBand`."""
        assert isinstance(self.layer_band, LayerBand)
        return self.layer_band

    @property
    def autocast_dtype(self) -> torch.dtype | None:
        """The autocast dtype of :attr:`precision` (None: full precision)."""
        return autocast_dtype_of(self.precision)

    def torch_device(self) -> torch.device:
        """Returns the scoring device (``"auto"``: CUDA when present).

        Raises:
            BadDevice: CUDA was requested but is not available.
        """
        return resolve_device(self.device)

    def replace(self, **changes: Any) -> ScoringConfig:
        """Returns a copy with ``changes`` (``dataclasses.replace``); the batch is loaded again if needed."""
        return dataclasses.replace(self, **changes)

    # -- the batch -----------------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the ``(x, y)`` batch on the CPU, loaded on first use and kept.

        Raises:
            BadData: The source cannot be read.
        """
        loaded = self._loaded
        with loaded["lock"]:
            if "batch" not in loaded:
                loaded["batch"] = load_batch(
                    self.data,
                    batch_size=self.batch_size,
                    seed=self.seed,
                    resolution=self.resolution,
                )
            return loaded["batch"]

    def fingerprint(self) -> str:
        """Returns a content hash of :meth:`batch` (the ``data`` field of cache keys)."""
        loaded = self._loaded
        if "fingerprint" not in loaded:
            loaded["fingerprint"] = batch_fingerprint(*self.batch())
        return loaded["fingerprint"]

    def with_batch(self, x: torch.Tensor, y: torch.Tensor) -> ScoringConfig:
        """Returns a copy whose batch is ``(x, y)`` as given (all of it, in order, not resized again).

        For a batch already loaded elsewhere (e.g. read from a file a host shipped to a worker); the
        copy's :meth:`batch` and cache keys equal those of the config the batch came from.
        """
        return self.replace(data=(x, y), batch_size=len(x))

    def __getstate__(self) -> dict[str, Any]:
        # Pickled (for worker processes) with the batch it has loaded, without its lock.
        state = dict(self.__dict__)
        state["_loaded"] = {k: v for k, v in self._loaded.items() if k != "lock"}
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        state["_loaded"] = {**state["_loaded"], "lock": threading.Lock()}
        self.__dict__.update(state)

    # -- cache keys ----------------------------------------------------------------------------------
    def _proxy_state(self, name: str) -> dict[str, Any]:
        """Options of proxy ``name`` and of the proxies it requires, plus their definition versions
        and what else determines them (e.g. the content of a fitted LIBRA model)."""
        spec = get_proxy(name)
        state: dict[str, Any] = {"version": spec.version}
        options = dict(self.options.get(spec.name, {}))
        if spec.fingerprint is not None:
            state["fingerprint"] = spec.fingerprint(options)
        if options:
            state["options"] = options
        if spec.requires is not None:
            state["requires"] = {
                dep: self._proxy_state(dep) for dep in sorted(spec.requires(options))
            }
        return state

    def cache_key(
        self, space: str, arch: str, proxy: str, *, extra: Mapping[str, Any] | None = None
    ) -> CacheKey:
        """Returns the :class:`~lswag_plugin.cache.CacheKey` of ``proxy``'s score of one architecture.

        The one recipe every host uses. The key holds everything that changes the score: the space and
        the architecture's canonical string, the proxy, the batch's content (:meth:`fingerprint`) and
        its image size, the seed, and a hash of the batch size, K, ``num_classes``, the band, the
        precision, a custom loss, the proxy's definition version, its options (and those of the proxies
        it reads) and whatever else it declares (a LIBRA model's content, not its path), plus the
        package version. Settings that do not change a score (device, threads) are not in it.

        Args:
            space: The search space's name, or another namespace (``"timm"``, ``"nni:MySpace"``).
            arch: The architecture's canonical string (``space.encode(arch)``).
            proxy: A registered proxy name (aliases give the canonical name's key).
            extra: Host settings that change the score too (e.g. NNI's ``init_seed``), JSON-able.
        """
        x, _ = self.batch()
        spec = get_proxy(proxy)
        settings: dict[str, Any] = {
            "batch": int(x.shape[0]),
            "minibatches": self.minibatches,
            "num_classes": self.num_classes,
            "layer_band": [self.band.low, self.band.high],
            "proxy": self._proxy_state(spec.name),
        }
        if self.precision is not None:
            settings["precision"] = self.precision
        if self.loss_fn is not None:
            fn = self.loss_fn
            settings["loss"] = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', fn)}"
        if extra:
            settings["extra"] = dict(extra)
        return CacheKey(
            space=space,
            arch=arch,
            proxy=spec.name,
            data=self.fingerprint(),
            seed=int(self.seed),
            resolution=int(x.shape[-1]) if x.dim() == 4 else None,
            version=cache_version(settings),
        )

    def cache_keys(
        self,
        space: str,
        arch: str,
        proxies: Iterable[str],
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> dict[str, CacheKey]:
        """Returns :meth:`cache_key` of each proxy, by name."""
        return {p: self.cache_key(space, arch, p, extra=extra) for p in proxies}

    # -- serialisation -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Returns the settings as JSON-able values (``data`` must be None or a path; no ``loss_fn``).

        Raises:
            TypeError: ``data`` is in memory (tensors, a loader) or ``loss_fn`` is set: save the batch
                to a file and pass its path, or rebuild the config in the worker.
        """
        if not (self.data is None or isinstance(self.data, str | os.PathLike)):
            raise TypeError(
                "a ScoringConfig with in-memory data cannot be written as JSON; save the batch "
                "(np.savez or torch.save) and pass its path as data"
            )
        if self.loss_fn is not None:
            raise TypeError("a ScoringConfig with a custom loss_fn cannot be written as JSON")
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}
        out["data"] = None if self.data is None else os.fspath(self.data)
        out["layer_band"] = [self.band.low, self.band.high]
        out.pop("loss_fn")
        json.dumps(out)  # fails here, not in the reader, if an option is not JSON-able
        return out

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ScoringConfig:
        """Returns the config :meth:`to_dict` wrote."""
        values = dict(values)
        if isinstance(values.get("layer_band"), list):
            values["layer_band"] = tuple(values["layer_band"])
        return cls(**values)


def file_fingerprint(path: str | os.PathLike[str]) -> str:
    """Returns a short content hash of a file (for proxies whose score depends on a file's content)."""
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]
