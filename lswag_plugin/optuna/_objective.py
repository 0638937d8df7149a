"""``ZeroCostObjective``: an Optuna objective that returns the zero-cost score of the trial's model."""

from __future__ import annotations

import copy
import logging
import math
import statistics
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from lswag_plugin.engine import CandidateKey, Scorer, ScoringConfig
from lswag_plugin.engine.registry import get_proxy
from lswag_plugin.engine.rng import seeded
from lswag_plugin.errors import DirectionMismatch
from lswag_plugin.optuna._attrs import FAIL_REASON_ATTR

if TYPE_CHECKING:
    import optuna

__all__ = ["LATENCY", "DirectionMismatch", "ZeroCostObjective"]

_logger = logging.getLogger(__name__)

#: Name of the latency objective (milliseconds per forward pass of the scoring batch, eval mode).
LATENCY = "latency_ms"


def _direction_word(direction: str) -> str:
    return "maximize" if direction == "max" else "minimize"


class ZeroCostObjective:
    """An Optuna objective: builds the trial's model and returns its zero-cost score.

    ``objective(trial)`` calls ``build_model(trial)`` (which calls ``trial.suggest_*``), scores the untrained
    network with a :class:`~lswag_plugin.engine.Scorer` (one batch, placed on the device once), stores every computed value in
    ``trial.user_attrs`` (proxy name → score, ``None`` for NaN; ``zc_seconds``) and returns the score of
    ``proxy`` — followed by the values of ``minimize`` for a multi-objective study (e.g. ``"params"``,
    ``"flops"`` or ``"latency_ms"``, all minimised; use ``optuna.samplers.NSGAIISampler``).

    The study must optimise in :meth:`directions` (``"maximize"`` for every built-in proxy);
    :meth:`create_study` creates one that does. A study in another direction raises
    :class:`DirectionMismatch` at the first trial.

    A candidate that cannot be built or scored (an exception in ``catch``), or whose score is NaN (the
    model's output was not finite), is not an error of the study: the objective stores the reason in
    ``trial.user_attrs["fail_reason"]`` and returns NaN, which Optuna records as a FAILed trial; the study
    goes on without ``catch=`` in ``study.optimize`` (with ask/tell, ``study.tell(trial, value)`` does the
    same). ``optuna.TrialPruned`` raised by ``build_model`` passes through.

    Determinism: the model is built under ``torch.manual_seed(seed)`` and the batch and passes are
    seeded, so the score is a function of ``trial.params``. PyTorch's generator is process-wide, so with
    ``n_jobs`` threads the seeded builds and scores run one at a time (:func:`~lswag_plugin.engine.rng.seeded`);
    to score in parallel, run worker processes on a shared storage.
    Scores are therefore cached by parameters (``cache_size`` entries; 0 disables): a
    :class:`PrescreenSampler` that used this objective to choose a candidate does not pay for it twice.
    With ``cache`` (off by default) and a builder from :func:`space_builder`, scores also go through the
    disk score cache under the same keys as ``lswag search``/``bench``/``compare``: a study over NB201
    reuses the scores a bench already computed, and vice versa.

    Args:
        build_model: ``build_model(trial) -> nn.Module``, an untrained classifier.
        proxy: The proxy returned first (any registered name, e.g. ``"lswag"``, ``"zico"``, ``"libra"``).
        minimize: Extra objectives, each minimised: registered proxies such as ``"params"``/``"flops"``,
            or ``"latency_ms"``.
        record: Further proxies computed in the same passes and stored in ``user_attrs`` only.
        config: The scoring settings (:class:`~lswag_plugin.engine.ScoringConfig`): the batch (loaded
            once), K, resolution, ``num_classes`` (checked against the output width), ``seed`` (of the
            batch, the weight initialisation and the passes), device (``"auto"``: CUDA when present),
            band, options, ``loss_fn``.
        latency_repeats: Timed forward passes for ``"latency_ms"`` (the median is kept).
        catch: Exceptions of ``build_model`` or scoring that FAIL the trial instead of stopping the study.
        cache_size: Scores kept in memory by parameters (0 disables it).
        cache: The disk score cache (a :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` for the
            default file, or None: the default), used when ``build_model`` comes from
            :func:`space_builder`.
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s
            (``data``, ``batch_size``, ``seed``, ``device``, ...).

    Raises:
        UnknownProxy: A name in ``proxy``, ``minimize`` or ``record`` is not registered.
        ValueError: An argument is out of range.

    Example:
        >>> import optuna
        >>> from torch import nn
        >>> from lswag_plugin.optuna import ZeroCostObjective
        >>> def build(trial):
        ...     width = trial.suggest_int("width", 4, 16)
        ...     return nn.Sequential(nn.Conv2d(3, width, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
        ...                          nn.Flatten(), nn.Linear(width, 8))
        >>> objective = ZeroCostObjective(build, proxy="lswag", batch_size=16)
        >>> study = objective.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
        >>> study.optimize(objective, n_trials=3)
        >>> study.directions[0].name, sorted(study.best_trial.user_attrs)
        ('MAXIMIZE', ['lswag', 'zc_seconds'])
    """

    def __init__(
        self,
        build_model: Callable[[Any], nn.Module],
        *,
        proxy: str = "lswag",
        minimize: Sequence[str] = (),
        record: Sequence[str] = (),
        config: ScoringConfig | None = None,
        latency_repeats: int = 5,
        catch: tuple[type[BaseException], ...] = (Exception,),
        cache_size: int = 1024,
        cache: Any = None,
        **settings: Any,
    ) -> None:
        if not callable(build_model):
            raise TypeError(
                f"build_model must be callable(trial) -> nn.Module, got {build_model!r}"
            )
        if isinstance(minimize, str) or isinstance(record, str):
            raise TypeError("minimize and record are sequences of names, e.g. minimize=('params',)")
        if proxy == LATENCY:
            raise ValueError(
                f"{LATENCY!r} is a cost to minimise: pass it in minimize=, not as proxy"
            )
        if latency_repeats < 1:
            raise ValueError(f"latency_repeats must be >= 1, got {latency_repeats}")
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        if len(set(minimize)) != len(minimize) or proxy in minimize:
            raise ValueError(
                f"objectives must be distinct, got proxy={proxy!r}, minimize={minimize!r}"
            )
        self.build_model = build_model
        self.proxy = get_proxy(proxy).name
        self.minimize = tuple(m if m == LATENCY else get_proxy(m).name for m in minimize)
        self.record = tuple(get_proxy(r).name for r in record)
        self._direction = get_proxy(proxy).direction
        config = ScoringConfig.of(config, **settings)
        builder_classes = getattr(build_model, "num_classes", None)
        if config.num_classes is None and builder_classes is not None:
            config = config.replace(num_classes=builder_classes)
        self._space = getattr(build_model, "space", None)
        self._prefix = getattr(build_model, "prefix", "")
        self.scorer = Scorer(self.proxies, config, cache=cache if self._space is not None else None)
        self.latency_repeats = latency_repeats
        self.catch = tuple(catch)
        self.cache_size = cache_size
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[tuple[tuple[str, str], ...], dict[str, float]] = OrderedDict()

    @property
    def config(self) -> ScoringConfig:
        """The scoring settings."""
        return self.scorer.config

    @property
    def seed(self) -> int:
        """Seed of the batch, the weight initialisation and the passes."""
        return self.config.seed

    # -- what the study must look like -------------------------------------------------------------
    @property
    def proxies(self) -> list[str]:
        """Returns the proxies computed per trial: the objective proxy, then recorded and cost proxies."""
        names = [self.proxy, *self.record, *(m for m in self.minimize if m != LATENCY)]
        return list(dict.fromkeys(names))

    def directions(self) -> list[str]:
        """Returns the study directions this objective needs (``["maximize"]`` for ``lswag``)."""
        return [_direction_word(self._direction), *("minimize" for _ in self.minimize)]

    def create_study(self, **kwargs: Any) -> optuna.Study:
        """Returns ``optuna.create_study(directions=self.directions(), **kwargs)``."""
        import optuna

        if "direction" in kwargs or "directions" in kwargs:
            raise TypeError("create_study sets the directions itself; do not pass direction(s)")
        return optuna.create_study(directions=self.directions(), **kwargs)

    def _check_directions(self, trial: Any) -> None:
        study = getattr(trial, "study", None)
        if study is None:  # FixedTrial: no study to check
            return
        have = [d.name.lower() for d in study.directions]
        want = self.directions()
        if have != want:
            raise DirectionMismatch(
                f"the study optimises {have} but this objective returns {want} ({self.proxy} is "
                f"{'higher' if self._direction == 'max' else 'lower'}-is-better"
                f"{', then ' + ', '.join(self.minimize) + ' minimised' if self.minimize else ''}); "
                "create the study with optuna.create_study(directions=objective.directions()) "
                "or objective.create_study()"
            )

    # -- scoring -----------------------------------------------------------------------------------
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the scoring batch (loaded on first use)."""
        return self.config.batch()

    def measure(
        self, model: nn.Module, *, owned: bool = False, key: CandidateKey | None = None
    ) -> dict[str, float]:
        """Returns every value this objective computes for ``model`` (proxies, latency, seconds).

        ``owned=True`` hands the model over (the objective built it): it is scored without a copy,
        through the scorer's one cached path (:meth:`~lswag_plugin.engine.Scorer.evaluate`): with
        ``key`` and a disk cache, the proxies come from the cache when it holds them all (then
        ``zc_seconds`` counts the latency only), else they are computed and stored there with their
        sub-scores and seconds. ``latency_ms`` is measured every time (it is not a score of the cache).
        """
        started = time.perf_counter()
        latency = self._latency_ms(model) if LATENCY in self.minimize else None
        cached = False
        if owned:
            label = key.arch if key is not None else None
            result = self.scorer.evaluate(lambda: model, key=key, label=label, catch=False)
            scores: Any = result.values
            cached = result.cached
        else:
            scores = self.scorer.score(model)
        values = {name: float(scores[name]) for name in self.proxies}
        if latency is not None:
            values[LATENCY] = latency
        # The seconds of this call (latency and scoring); a cache hit scored nothing.
        values["zc_seconds"] = 0.0 if cached and latency is None else time.perf_counter() - started
        return values

    def _candidate_key(self, trial: Any) -> CandidateKey | None:
        """The cache key of the trial's architecture (a :func:`space_builder` build), else None."""
        arch = trial.user_attrs.get(f"{self._prefix}arch")
        if self.scorer.cache is None or self._space is None or arch is None:
            return None
        return CandidateKey(self._space.name, arch)

    def _latency_ms(self, model: nn.Module) -> float:
        device = self.scorer.device
        work = copy.deepcopy(model).to(device).eval()
        x = self.batch()[0].to(device)
        times = []
        with torch.no_grad():
            work(x)  # warm-up
            for _ in range(self.latency_repeats):
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                t0 = time.perf_counter()
                work(x)
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)

    def _cached(self, key: tuple[tuple[str, str], ...]) -> dict[str, float] | None:
        with self._cache_lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return dict(self._cache[key])
        return None

    def _remember(self, key: tuple[tuple[str, str], ...], values: dict[str, float]) -> None:
        if self.cache_size == 0:
            return
        with self._cache_lock:
            self._cache[key] = dict(values)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)

    def _fail(self, trial: Any, reason: str) -> list[float]:
        study = getattr(trial, "study", None)
        scratch = getattr(study, "study_name", None) == "lswag-prescreen-candidate"
        _logger.log(  # a PrescreenSampler candidate is not a trial of the user's study
            logging.DEBUG if scratch else logging.WARNING,
            "trial %s FAILs: %s",
            getattr(trial, "number", "?"),
            reason,
        )
        trial.set_user_attr(FAIL_REASON_ATTR, reason)
        return [math.nan for _ in self.directions()]

    def _values(self, trial: Any) -> list[float]:
        import optuna

        try:
            with seeded(self.seed):  # the CPU generator (where builders create their weights)
                model = self.build_model(trial)
            if not isinstance(model, nn.Module):
                raise TypeError(f"build_model returned {type(model).__name__}, not an nn.Module")
        except optuna.TrialPruned:
            raise
        except self.catch as exc:
            return self._fail(trial, f"build_model failed: {type(exc).__name__}: {exc}")
        key = tuple(sorted((name, repr(value)) for name, value in trial.params.items()))
        values = self._cached(key)
        if values is None:
            try:
                values = self.measure(model, owned=True, key=self._candidate_key(trial))
            except self.catch as exc:
                return self._fail(trial, f"scoring failed: {type(exc).__name__}: {exc}")
            self._remember(key, values)
        for name, value in values.items():
            trial.set_user_attr(name, None if math.isnan(value) else value)
        result = [values[self.proxy], *(values[m] for m in self.minimize)]
        bad = [n for n, v in zip([self.proxy, *self.minimize], result) if math.isnan(v)]
        if bad:
            return self._fail(
                trial,
                f"{', '.join(bad)} is NaN (the model's output or loss was not finite on the batch)",
            )
        return result

    def score(self, trial: Any) -> float:
        """Returns the zero-cost score of the trial's model, whatever the study optimises.

        For a study that trains (its objective is a loss): the score is recorded in ``user_attrs`` like
        :meth:`__call__` does, and can be reported to a :class:`ZeroCostPruner` with
        :func:`report_zero_cost`. NaN (with ``user_attrs["fail_reason"]``) when the candidate fails.
        """
        return self._values(trial)[0]

    def __call__(self, trial: Any) -> float | tuple[float, ...]:
        """Returns the trial's objective value(s); NaN (a FAILed trial) with a ``fail_reason``.

        Raises:
            DirectionMismatch: The study does not optimise in :meth:`directions`.
        """
        self._check_directions(trial)
        result = self._values(trial)
        return result[0] if len(result) == 1 else tuple(result)
