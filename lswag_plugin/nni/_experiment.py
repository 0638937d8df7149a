"""NNI experiments in this process: the sequential engine's config, an evaluator of samples, one runner.

:func:`run_experiment` is the one place an experiment over a space's NNI model space is set up, run and
stopped; :class:`SampleEvaluator` turns each trial's sample into an architecture of the space (no network
is built) and reports what a function of it returns. Compare's NNI strategies are these two.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable
from typing import Any

with warnings.catch_warnings():
    # NNI 3.0 predates torch.nn.Buffer and friends and warns that they "are not nn.Module": harmless.
    warnings.filterwarnings(
        "ignore", message=".*is found to be not a nn.Module", category=RuntimeWarning
    )
    import nni
    from nni.nas.evaluator import Evaluator
    from nni.nas.experiment import NasExperiment, NasExperimentConfig

from lswag_plugin.errors import BudgetSpent
from lswag_plugin.spaces import SearchSpace

__all__ = ["SampleEvaluator", "run_experiment", "sequential_config"]


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


class SampleEvaluator(Evaluator):
    """An NNI evaluator that builds no network: a trial's value is ``value(arch)`` of its architecture.

    Each trial's sample becomes an architecture of ``space`` (:meth:`~lswag_plugin.spaces.SearchSpace.
    from_nni_sample`; a :class:`~lswag_plugin.spaces.PoolSpace` gives its nearest member). A finite
    value is reported to NNI; None or a non-finite value reports no metric, so the trial fails and NNI's
    ``RegularizedEvolution`` leaves it out of its population (no sentinel value). ``value`` may raise
    :class:`~lswag_plugin.errors.BudgetSpent` to end the experiment (:func:`run_experiment`).

    Args:
        space: The space whose :meth:`~lswag_plugin.spaces.SearchSpace.nni_model_space` is searched.
        value: ``value(arch) -> float | None``.

    Example:
        >>> from lswag_plugin.spaces import get_space
        >>> evaluator = SampleEvaluator(get_space("nb201"), lambda arch: float(arch.count("conv")))
        >>> sample = {"cell/0_1": "conv_3x3", "cell/0_2": "none", "cell/1_2": "none",
        ...           "cell/0_3": "none", "cell/1_3": "none", "cell/2_3": "conv_1x1"}
        >>> evaluator.value_of(sample)
        2.0
    """

    def __init__(self, space: SearchSpace, value: Callable[[Any], float | None]) -> None:
        self.space = space
        self.value = value

    def value_of(self, sample: Any) -> float | None:
        """Returns the value of a sample's architecture (None: no metric)."""
        value = self.value(self.space.from_nni_sample(sample))
        return None if value is None or not math.isfinite(value) else value

    def evaluate(self, model: Any) -> None:  # pragma: no cover - _execute never builds a model
        raise NotImplementedError("a SampleEvaluator evaluates samples, not models")

    def _execute(self, model: Any) -> float | None:
        value = self.value_of(model.sample)
        if value is not None:
            nni.report_final_result(value)
        return value


def run_experiment(
    model_space: Any,
    evaluator: Any,
    strategy: Any,
    config: NasExperimentConfig,
    *,
    log_level: int = logging.WARNING,
) -> None:
    """Runs an in-process NNI experiment over ``model_space`` until its trials or the budget end.

    ``model_space`` is an NNI ``ModelSpace`` (e.g. a space's
    :meth:`~lswag_plugin.spaces.SearchSpace.nni_model_space`). :class:`~lswag_plugin.errors.BudgetSpent`
    raised by the evaluator ends it (with ``config.execution_engine.continue_on_failure = False`` the
    sequential engine lets it through); NNI's logger (INFO on stdout once nni is imported) is held at
    ``log_level`` meanwhile, and the experiment is always stopped.
    """
    logger = logging.getLogger("nni")
    level = logger.level
    logger.setLevel(log_level)
    try:
        exp = NasExperiment(model_space, evaluator, strategy, config)
        try:
            exp.run()
        except BudgetSpent:
            pass
        finally:
            exp.stop()
    finally:
        logger.setLevel(level)
