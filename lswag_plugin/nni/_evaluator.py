"""``ZeroCostEvaluator``: an NNI 3.0 evaluator that scores each candidate with zero-cost proxies."""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import tempfile
import time
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

with warnings.catch_warnings():
    # NNI 3.0 predates torch.nn.Buffer and friends and warns that they "are not nn.Module": harmless.
    warnings.filterwarnings(
        "ignore", message=".*is found to be not a nn.Module", category=RuntimeWarning
    )
    import nni
    import nni.nas.nn.pytorch
    from nni.nas.evaluator import Evaluator

from lswag_plugin.engine import CandidateKey, Scorer, ScoringConfig
from lswag_plugin.engine.rng import seeded
from lswag_plugin.errors import TrialFailed

__all__ = ["TrialFailed", "TrialRecord", "ZeroCostEvaluator"]

_logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One candidate the evaluator saw in this process.

    Attributes:
        sample: NNI's architecture dict (what ``export_top_models(formatter="dict")`` returns).
        metrics: The final result reported to NNI (``"default"`` plus every proxy), or None if it failed.
        failure: Why the trial failed (``"ErrorType: message"``), or None.
        seconds: Wall-clock seconds spent on the candidate (building it and scoring it).
    """

    sample: dict[str, Any] | None
    metrics: dict[str, float] | None
    failure: str | None
    seconds: float


class ZeroCostEvaluator(Evaluator):
    """An NNI 3.0 NAS evaluator that scores each frozen candidate with zero-cost proxies.

    Every candidate is scored by a :class:`~lswag_plugin.engine.Scorer` on the same batch (placed on the
    device once; the candidate, built here, is scored without a copy), freshly initialised from
    ``init_seed`` (so a candidate gets the same score whichever strategy proposes it, in any process). The
    final result sent to NNI is ``{"default": objective oriented to maximise, <proxy>: raw value, ...}``
    plus the engine's sub-scores (``lswag.lambda``, ``lswag.psi``, a LIBRA model's member proxies).
    A candidate that cannot be built or scored (or whose objective is NaN) raises :class:`TrialFailed`:
    NNI marks that trial failed with the reason, and the experiment goes on (on the sequential engine the
    evaluator turns on ``continue_on_failure`` if it was off; :func:`~lswag_plugin.nni.sequential_config`
    sets it up front).

    Args:
        proxies: Proxy names (``"lswag"``, ``"lswag,nwot,params"``, ``["zico", "swap"]``), or ``"libra"``
            with ``options={"libra": {"model": "libra.json"}}`` for a fitted LIBRA fusion.
        objective: The proxy NNI optimises (default: the first of ``proxies``).
        config: The scoring settings (:class:`~lswag_plugin.engine.ScoringConfig`): the batch (loaded
            once; the same batch scores every candidate), K, resolution (e.g. 32 for NAS-Bench-201),
            ``seed`` (batch subset and passes), ``num_classes`` (checked against the output width),
            band, options (e.g. ``{"libra": {"model": "libra.json"}}``), device (``"auto"``: CUDA
            when present).
        init_seed: Seeds each candidate's weight initialisation (None: NNI's global RNG, not reproducible).
        cache: The disk score cache (a :class:`~lswag_plugin.cache.ScoreCache`, ``"auto"`` or None: the
            default), keyed by the model space and NNI's sample; used only with a seeded ``init_seed``.
        cache_namespace: Names the model space in cache keys (default ``"nni:<its class name>"``); give
            a distinct name when one class is built with other constructor arguments.
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s.

    Raises:
        UnknownProxy: A proxy name is not registered.
        ValueError: ``objective`` is not among ``proxies``, or a size is not positive.

    Example:
        >>> from torch import nn
        >>> evaluator = ZeroCostEvaluator("nwot,lswag", objective="lswag", batch_size=8)
        >>> net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8))
        >>> metrics = evaluator.evaluate(net)
        >>> sorted(metrics), metrics["default"] == metrics["lswag"]
        (['default', 'lswag', 'lswag.lambda', 'lswag.psi', 'nwot'], True)
    """

    def __init__(
        self,
        proxies: str | list[str] | tuple[str, ...] = "lswag",
        *,
        objective: str | None = None,
        config: ScoringConfig | None = None,
        init_seed: int | None = 0,
        cache: Any = None,
        cache_namespace: str | None = None,
        **settings: Any,
    ) -> None:
        scorer = Scorer(proxies, config, cache=cache if init_seed is not None else None, **settings)
        names = scorer.proxies
        objective = objective or names[0]
        if objective not in names:
            raise ValueError(
                f"objective {objective!r} is not among the proxies {names}; "
                f"add it to proxies or pick one of them"
            )
        self.scorer = scorer
        self.proxies = names
        self.objective = objective
        self.direction = scorer.plan.specs[names.index(objective)].direction
        self.init_seed = init_seed
        self.cache_namespace = cache_namespace
        #: What this process evaluated, in order (in-process engines see the whole experiment here).
        self.history: list[TrialRecord] = []

    @property
    def config(self) -> ScoringConfig:
        """The scoring settings."""
        return self.scorer.config

    # ----------------------------------------------------------------------------------------- scoring
    def batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Returns the ``(x, y)`` batch every candidate is scored on (loaded on first use)."""
        return self.config.batch()

    def metrics(self, model: torch.nn.Module, *, owned: bool = False) -> dict[str, float]:
        """Returns the final result NNI gets for ``model``: ``"default"``, every proxy's raw score, sub-scores.

        ``owned=True`` hands the model over (the evaluator built it): it is scored without a copy.

        Raises:
            TrialFailed: The objective is NaN (the model's output was not finite).
            LswagError: The model cannot be scored (the message names why).
        """
        scores = self.scorer.score(model, owned=owned)
        return self._result(scores, scores.components)

    def _result(
        self, scores: Mapping[str, float], components: Mapping[str, float]
    ) -> dict[str, float]:
        """``"default"``, every proxy's raw score, then the sub-scores (``lswag.lambda``, ...) and the
        members a combined proxy (libra) read."""
        values = {name: float(scores[name]) for name in self.proxies}
        values.update({k: float(v) for k, v in components.items() if k not in values})
        raw = values[self.objective]
        default = -raw if self.direction == "min" else raw
        if math.isnan(default):
            raise TrialFailed(
                f"{self.objective} is NaN: the candidate's outputs or loss were not finite on the batch"
            )
        return {"default": float(default), **values}

    def _candidate_key(self, model: Any) -> CandidateKey | None:
        """The cache key of a frozen candidate (its model space and NNI sample), or None."""
        sample = getattr(model, "sample", None)
        if self.scorer.cache is None or not isinstance(sample, Mapping):
            return None
        space = getattr(model, "model_space", None) or getattr(model, "model", None) or model
        namespace = self.cache_namespace or f"nni:{type(space).__qualname__}"
        arch = json.dumps(sample, sort_keys=True, default=repr)
        return CandidateKey(namespace, arch, extra={"init_seed": self.init_seed})

    def evaluate(self, model: Any) -> dict[str, float]:
        """Scores an already built candidate (NNI calls :meth:`_execute`, which also reports it).

        Returns:
            The final result NNI would get (``"default"`` plus every proxy).
        """
        return self.metrics(model)

    def _score_candidate(self, model: Any) -> dict[str, float]:
        """Builds (seeded) and scores a frozen candidate through the scorer's one cached path."""

        def build() -> torch.nn.Module:
            with seeded(self.init_seed):
                return model.executable_model()

        key = self._candidate_key(model)
        label = key.arch if key is not None else None
        result = self.scorer.evaluate(build, key=key, label=label, catch=False)
        return self._result(result.values, result.components)  # type: ignore[arg-type]

    def _execute(self, model: Any) -> dict[str, float]:
        """Builds the frozen ``model`` (an ``ExecutableModelSpace``), scores it, reports or fails it."""
        started = time.perf_counter()
        sample = getattr(model, "sample", None)
        try:
            result = self._score_candidate(model)
            nni.report_final_result(result)
        except (KeyboardInterrupt, SystemExit):
            raise
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self.history.append(TrialRecord(sample, None, reason, time.perf_counter() - started))
            _logger.warning("zero-cost evaluation failed for %s: %s", sample, reason)
            _keep_sequential_engine_running()
            if isinstance(exc, TrialFailed):
                raise
            raise TrialFailed(f"candidate {sample} failed: {reason}") from exc
        self.history.append(TrialRecord(sample, result, None, time.perf_counter() - started))
        return result

    # ----------------------------------------------------------------------------- NNI serialisation
    def _dump(self) -> dict[str, Any]:
        """Returns the evaluator's arguments for NNI's serializer (trials in other processes)."""
        config = self.config
        if not (config.data is None or isinstance(config.data, str | os.PathLike)):
            config = config.with_batch(*self.batch())  # tensors and loaders travel as a file
            config = config.replace(data=str(_save_batch(*self.batch())))
        return {
            "proxies": list(self.proxies),
            "objective": self.objective,
            "config": config.to_dict(),
            "init_seed": self.init_seed,
            "cache_namespace": self.cache_namespace,
        }

    @staticmethod
    def _load(**kwargs: Any) -> ZeroCostEvaluator:
        """Returns the evaluator :meth:`_dump` described."""
        config = ScoringConfig.from_dict(kwargs.pop("config"))
        if _is_batch_file(config.data):
            x, y = torch.load(config.data, weights_only=True)
            config = config.with_batch(x, y)
        return ZeroCostEvaluator(config=config, **kwargs)

    def extra_repr(self) -> str:
        return (
            f"proxies={self.proxies}, objective={self.objective!r} ({self.direction}), "
            f"batch_size={self.config.batch_size}, resolution={self.config.resolution}, "
            f"device={self.config.device!r}"
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["history"] = []
        return state


_BATCH_SUFFIX = ".lswag-batch.pt"


def _is_batch_file(data: Any) -> bool:
    return isinstance(data, str) and data.endswith(_BATCH_SUFFIX)


def _save_batch(x: torch.Tensor, y: torch.Tensor) -> Path:
    """Saves a batch where trial processes on this machine can read it; returns its path."""
    from lswag_plugin.data import batch_fingerprint

    root = Path(os.environ.get("LSWAG_CACHE_DIR") or Path(tempfile.gettempdir()) / "lswag-cache")
    path = root / "nni" / f"{batch_fingerprint(x, y)}{_BATCH_SUFFIX}"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save((x.cpu(), y.cpu()), tmp)
        tmp.replace(path)
    return path


_warned_continue = False


def _keep_sequential_engine_running() -> None:
    """Lets NNI's in-process engine record a failed trial instead of stopping the experiment."""
    global _warned_continue
    from nni.nas.execution.sequential import SequentialTrialCommandChannel
    from nni.runtime.trial_command_channel import get_default_trial_command_channel

    channel = get_default_trial_command_channel()
    engine = getattr(channel, "engine", None)
    if isinstance(channel, SequentialTrialCommandChannel) and not engine.continue_on_failure:
        if not _warned_continue:
            _logger.warning(
                "a candidate failed: turning on continue_on_failure of NNI's sequential engine so the "
                "experiment records a failed trial and goes on (use lswag_plugin.nni.sequential_config())"
            )
            _warned_continue = True
        engine.continue_on_failure = True
