"""NNI 3.0 NAS integration: score candidates with zero-cost proxies instead of training them.

``import nni`` here is the real NNI (this package is named after it, as optuna-integration names its
modules); ``import lswag_plugin`` never imports this package, so NNI stays an optional dependency
(``pip install "lswag-plugin[nni]"``).

- :class:`ZeroCostEvaluator` (``_evaluator.py``) — scores each frozen candidate NNI proposes.
- :func:`sequential_config`, :func:`run_experiment`, :class:`SampleEvaluator` (``_experiment.py``) —
  in-process experiments; the NNI strategies of :mod:`lswag_plugin.compare` run through them.
- :func:`arch_from_sample`, :func:`sample_from_arch` (``_spaces.py``) — NNI samples ↔ architectures of
  our spaces; each space converts its own (:meth:`~lswag_plugin.spaces.SearchSpace.from_nni_sample`).

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

from lswag_plugin.nni._evaluator import TrialFailed, TrialRecord, ZeroCostEvaluator
from lswag_plugin.nni._experiment import SampleEvaluator, run_experiment, sequential_config
from lswag_plugin.nni._spaces import (
    arch_from_sample,
    darts_arch_from_sample,
    darts_sample_from_arch,
    nb101_arch_from_sample,
    nb101_sample_from_arch,
    nb201_arch_from_sample,
    sample_from_arch,
)

__all__ = [
    "SampleEvaluator",
    "TrialFailed",
    "TrialRecord",
    "ZeroCostEvaluator",
    "arch_from_sample",
    "darts_arch_from_sample",
    "darts_sample_from_arch",
    "nb101_arch_from_sample",
    "nb101_sample_from_arch",
    "nb201_arch_from_sample",
    "run_experiment",
    "sample_from_arch",
    "sequential_config",
]
