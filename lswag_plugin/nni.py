"""NNI 3.0 NAS integration: score candidates with zero-cost proxies instead of training them.

``import nni`` here is the real NNI (this module is named after it, as optuna-integration names its
modules); ``import lswag_plugin`` never imports this module, so NNI stays an optional dependency
(``pip install "lswag-plugin[nni]"``).

The evaluator plugs into any NNI multi-trial strategy (``Random``, ``RegularizedEvolution``, ``TPE``,
``PolicyBasedRL``, ``GridSearch``) and any engine (the in-process ``sequential`` engine or the default
training-service engine that runs each trial in its own process). NNI strategies maximise the trial's
``"default"`` metric, so a proxy whose direction is ``"min"`` is negated there; every proxy's raw value is
reported beside it.

Example:
    >>> import nni
    >>> from torch import nn
    >>> from nni.nas.nn.pytorch import LayerChoice, ModelSpace
    >>> from nni.nas.experiment import NasExperiment
    >>> from nni.nas.strategy import Random
    >>> from lswag_plugin.nni import ZeroCostEvaluator, sequential_config
    >>> class Space(ModelSpace):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.conv = LayerChoice([nn.Conv2d(3, 8, 1), nn.Conv2d(3, 8, 3, padding=1)], label="conv")
    ...         self.head = nn.Sequential(nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8))
    ...     def forward(self, x):
    ...         return self.head(self.conv(x))
    >>> evaluator = ZeroCostEvaluator("lswag,nwot", batch_size=16, resolution=16)
    >>> exp = NasExperiment(Space(), evaluator, Random(seed=0), sequential_config(max_trial_number=2))
    >>> exp.run()  # doctest: +SKIP
    >>> exp.export_top_models(top_k=1, formatter="dict")  # doctest: +SKIP
    [{'conv': 1}]
"""

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
    from nni.nas.experiment import NasExperimentConfig

from lswag_plugin.engine import Scorer, ScoringConfig
from lswag_plugin.engine.rng import seeded
from lswag_plugin.errors import TrialFailed

__all__ = [
    "TrialFailed",
    "TrialRecord",
    "ZeroCostEvaluator",
    "darts_arch_from_sample",
    "darts_sample_from_arch",
    "nb101_arch_from_sample",
    "nb101_sample_from_arch",
    "nb201_arch_from_sample",
    "sequential_config",
]

_logger = logging.getLogger(__name__)

#: NNI's NasBench201 hub space names the conv ops without the ``nor_`` prefix of NB201 strings.
_NNI_TO_NB201_OPS = {
    "none": "none",
    "skip_connect": "skip_connect",
    "conv_1x1": "nor_conv_1x1",
    "conv_3x3": "nor_conv_3x3",
    "avg_pool_3x3": "avg_pool_3x3",
}


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
    evaluator turns on ``continue_on_failure`` if it was off; :func:`sequential_config` sets it up front).

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
        values = {name: float(value) for name, value in scores.items()}
        # Sub-scores (``lswag.lambda``, ``lswag.psi``) and the members a combined proxy (libra) read.
        values.update({k: float(v) for k, v in scores.components.items() if k not in values})
        return self._result(values)

    def _result(self, values: dict[str, float]) -> dict[str, float]:
        raw = values[self.objective]
        default = -raw if self.direction == "min" else raw
        if math.isnan(default):
            raise TrialFailed(
                f"{self.objective} is NaN: the candidate's outputs or loss were not finite on the batch"
            )
        return {"default": float(default), **values}

    def _cache_keys(self, model: Any) -> dict[str, Any]:
        """Disk-cache keys of a frozen candidate (its model space and NNI sample), or ``{}``."""
        sample = getattr(model, "sample", None)
        if self.scorer.cache is None or not isinstance(sample, Mapping):
            return {}
        space = getattr(model, "model_space", None) or getattr(model, "model", None) or model
        namespace = self.cache_namespace or f"nni:{type(space).__qualname__}"
        arch = json.dumps(sample, sort_keys=True, default=repr)
        return self.config.cache_keys(
            namespace, arch, self.proxies, extra={"init_seed": self.init_seed}
        )

    def evaluate(self, model: Any) -> dict[str, float]:
        """Scores an already built candidate (NNI calls :meth:`_execute`, which also reports it).

        Returns:
            The final result NNI would get (``"default"`` plus every proxy).
        """
        return self.metrics(model)

    def _score_candidate(self, model: Any) -> dict[str, float]:
        keys = self._cache_keys(model)
        if keys:
            hits = self.scorer.cache.get_many(list(keys.values()))
            if len(hits) == len(keys):
                return self._result({n: hits[k] for n, k in keys.items()})
        with seeded(self.init_seed):
            network = model.executable_model()
        result = self.metrics(network, owned=True)
        if keys:
            self.scorer.cache.put_many({keys[n]: result[n] for n in self.proxies})
        return result

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


def sequential_config(**fields: Any) -> NasExperimentConfig:
    """Returns a ``NasExperimentConfig('sequential', 'simplified')`` that records failed candidates and goes on.

    Args:
        **fields: Experiment config fields, e.g. ``max_trial_number=100``.

    Example:
        >>> config = sequential_config(max_trial_number=50)
        >>> config.execution_engine.continue_on_failure, config.max_trial_number
        (True, 50)
    """
    config = NasExperimentConfig("sequential", "simplified", **fields)
    config.execution_engine.continue_on_failure = True
    return config


def nb201_arch_from_sample(sample: Mapping[str, Any]) -> str:
    """Returns the NB201 string of an NNI ``NasBench201`` hub-space sample.

    NNI labels the edges ``cell/{j}_{i}`` (from node j to node i) and names the convolutions
    ``conv_1x1``/``conv_3x3`` where NB201 strings say ``nor_conv_1x1``/``nor_conv_3x3``.

    Raises:
        BadArchitecture: An edge is missing or has an op NB201 does not know.

    Example:
        >>> sample = {"cell/0_1": "conv_3x3", "cell/0_2": "none", "cell/1_2": "skip_connect",
        ...           "cell/0_3": "avg_pool_3x3", "cell/1_3": "none", "cell/2_3": "conv_1x1"}
        >>> nb201_arch_from_sample(sample)
        '|nor_conv_3x3~0|+|none~0|skip_connect~1|+|avg_pool_3x3~0|none~1|nor_conv_1x1~2|'
    """
    from lswag_plugin.errors import BadArchitecture
    from lswag_plugin.spaces.nb201 import EDGES, to_arch_str

    ops = []
    for i, j in EDGES:
        key = f"cell/{j}_{i}"
        if key not in sample:
            raise BadArchitecture(
                f"NNI NasBench201 sample lacks edge {key!r}; got keys {sorted(sample)}"
            )
        op = sample[key]
        if op not in _NNI_TO_NB201_OPS:
            raise BadArchitecture(
                f"edge {key!r} has op {op!r}, which NB201 does not have; ops are {sorted(_NNI_TO_NB201_OPS)}"
            )
        ops.append(_NNI_TO_NB201_OPS[op])
    return to_arch_str(ops)


def nb101_arch_from_sample(sample: Mapping[str, Any], *, label: str = "cell") -> dict[str, Any]:
    """Returns the ``nb101`` architecture (the pruned ``{"matrix", "ops"}`` dict) of an NNI ``NasBench101`` sample.

    NNI's hub space labels one cell (shared by all 9 modules) ``cell/num_nodes`` (n, input and output
    included), ``cell/op{i}`` for the interior vertices 1..n-2 and ``cell/input{i}`` (the list of
    vertices feeding vertex i) for 1..n-1; it prunes the cell as NB101 does, keeping the vertex order, so
    the pruned cell is the same as :func:`lswag_plugin.spaces.nb101.validate_arch` gives. Other keys
    (``cell/final``, the pruned copy NNI writes while validating) are ignored.

    Raises:
        BadArchitecture: A key is missing, an op or input is out of range, or the cell is invalid
            (disconnected, or over NB101's limits after pruning).

    Example:
        >>> sample = {"cell/num_nodes": 4, "cell/op1": "conv3x3-bn-relu", "cell/op2": "maxpool3x3",
        ...           "cell/input1": [0], "cell/input2": [0, 1], "cell/input3": [2]}
        >>> nb101_arch_from_sample(sample)["matrix"]
        [[0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]]
    """
    from lswag_plugin.errors import BadArchitecture
    from lswag_plugin.spaces.nb101 import MAX_VERTICES, OPS, validate_arch

    def get(key: str) -> Any:
        if f"{label}/{key}" not in sample:
            raise BadArchitecture(
                f"NNI NasBench101 sample lacks {label}/{key!s}; got keys {sorted(sample)}"
            )
        return sample[f"{label}/{key}"]

    n = get("num_nodes")
    if isinstance(n, bool) or not isinstance(n, int) or not 2 <= n <= MAX_VERTICES:
        raise BadArchitecture(
            f"{label}/num_nodes must be an integer in 2..{MAX_VERTICES}, got {n!r}"
        )
    ops = ["input"]
    for i in range(1, n - 1):
        op = get(f"op{i}")
        if op not in OPS:
            raise BadArchitecture(f"{label}/op{i} is {op!r}; NB101 ops are {', '.join(OPS)}")
        ops.append(op)
    ops.append("output")
    matrix = [[0] * n for _ in range(n)]
    for i in range(1, n):
        sources = get(f"input{i}")
        if isinstance(sources, int):
            sources = [sources]
        for src in sources:
            if isinstance(src, bool) or not isinstance(src, int) or not 0 <= src < i:
                raise BadArchitecture(
                    f"{label}/input{i} lists {src!r}; vertex {i} reads only vertices 0..{i - 1}"
                )
            matrix[src][i] = 1
    return validate_arch({"matrix": matrix, "ops": ops})


def nb101_sample_from_arch(
    arch: Any, *, label: str = "cell", max_num_nodes: int = 7
) -> dict[str, Any]:
    """Returns the NNI ``NasBench101`` sample of an ``nb101`` architecture (pruned first).

    ``SimplifiedModelSpace.from_model(NasBench101()).freeze(sample)`` (what an NNI experiment does) or
    ``NasBench101.frozen_factory(sample)()`` builds NNI's network of that cell;
    :func:`nb101_arch_from_sample` inverts it. NNI's model space asks for every label even when the
    cell has fewer than ``max_num_nodes`` vertices: the unused ops are ``conv3x3-bn-relu`` and the
    unused inputs empty (NNI ignores both).

    Example:
        >>> arch = {"matrix": [[0, 1, 1], [0, 0, 1], [0, 0, 0]],
        ...         "ops": ["input", "conv1x1-bn-relu", "output"]}
        >>> sample = nb101_sample_from_arch(arch)
        >>> sample["cell/num_nodes"], sample["cell/op1"], sample["cell/input2"], sample["cell/input3"]
        (3, 'conv1x1-bn-relu', [0, 1], [])
        >>> nb101_arch_from_sample(sample) == arch
        True
    """
    from lswag_plugin.spaces.nb101 import OPS, validate_arch

    cell = validate_arch(arch)
    matrix, ops = cell["matrix"], cell["ops"]
    n = len(ops)
    sample: dict[str, Any] = {f"{label}/num_nodes": n}
    for i in range(1, max(n, max_num_nodes) - 1):
        sample[f"{label}/op{i}"] = ops[i] if i < n - 1 else OPS[0]
    for i in range(1, max(n, max_num_nodes)):
        sample[f"{label}/input{i}"] = [s for s in range(i) if matrix[s][i]] if i < n else []
    return sample


def darts_arch_from_sample(sample: Mapping[str, Any]) -> dict[str, list[list[Any]]]:
    """Returns the ``darts`` architecture (a genotype dict) of an NNI ``DARTS`` hub-space sample.

    NNI labels the op and input of the k-th (0, 1) operator of node i (2..5) ``normal/op_{i}_{k}`` and
    ``normal/input_{i}_{k}`` (a one-element list), and the same under ``reduce/``; a genotype lists
    them in that order (pairs 2(i-2)+k). The op names and their order are the same as ours.

    Raises:
        BadArchitecture: A key is missing, an op is unknown, or a node reads the same input with both
            of its operators: NNI's space allows that, DARTS genotypes (and NB301) do not.

    Example:
        >>> from lswag_plugin.spaces.darts import DARTS_V2
        >>> darts_arch_from_sample(darts_sample_from_arch(DARTS_V2)) == DARTS_V2
        True
    """
    from lswag_plugin.errors import BadArchitecture
    from lswag_plugin.spaces.darts import CELL_TYPES, NODES, validate_arch

    arch: dict[str, list[list[Any]]] = {}
    for kind in CELL_TYPES:
        pairs: list[list[Any]] = []
        for node in range(2, NODES + 2):
            for k in range(2):
                op_key, input_key = f"{kind}/op_{node}_{k}", f"{kind}/input_{node}_{k}"
                for key in (op_key, input_key):
                    if key not in sample:
                        raise BadArchitecture(
                            f"NNI DARTS sample lacks {key!r}; got keys {sorted(sample)}"
                        )
                src = sample[input_key]
                if not isinstance(src, int):
                    if len(src) != 1:
                        raise BadArchitecture(f"{input_key} must choose one input, got {src!r}")
                    src = src[0]
                pairs.append([sample[op_key], src])
        arch[kind] = pairs
    try:
        return validate_arch(arch)
    except BadArchitecture as exc:
        raise BadArchitecture(
            f"{exc} (NNI's DARTS space lets both operators of a node read the same input; "
            "the darts space, as DARTS genotypes and NB301, needs two different inputs)"
        ) from None


def darts_sample_from_arch(arch: Any) -> dict[str, Any]:
    """Returns the NNI ``DARTS`` hub-space sample of a ``darts`` architecture.

    It is the inverse of :func:`darts_arch_from_sample`.

    Example:
        >>> from lswag_plugin.spaces.darts import DARTS_V2
        >>> sample = darts_sample_from_arch(DARTS_V2)
        >>> sample["normal/op_5_1"], sample["normal/input_5_1"]
        ('dil_conv_3x3', [2])
    """
    from lswag_plugin.spaces.darts import CELL_TYPES, validate_arch

    genotype = validate_arch(arch)
    sample: dict[str, Any] = {}
    for kind in CELL_TYPES:
        for index, (op, src) in enumerate(genotype[kind]):
            node, k = index // 2 + 2, index % 2
            sample[f"{kind}/op_{node}_{k}"] = op
            sample[f"{kind}/input_{node}_{k}"] = [src]
    return sample
