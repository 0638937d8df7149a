"""OptunaHub package ``samplers/zero_cost_prescreen``: lswag-plugin's pre-screening sampler."""

from lswag_plugin.optuna import PrescreenSampler, ZeroCostObjective, suggest_architecture

__all__ = ["PrescreenSampler", "ZeroCostObjective", "suggest_architecture"]
