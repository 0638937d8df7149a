"""Captures: what the engine gathers for proxies, one file per capture, each serving one or more needs.

A capture follows the small lifecycle of :class:`Capture` (attach hooks, per-minibatch start, after
the forward, roll back, commit, publish into the proxy context); :data:`CAPTURES` maps each need to
its capture, and the passes loop over the captures of the planned needs. Adding a need is one new file
here: ``NEW = Needs.define("NEW", "...")``, a ``@capture_for(NEW)`` subclass of :class:`Capture`, and
its import below. Captures publish in that order, a capture after those whose needs it ``requires``.
"""

from lswag_plugin.engine.captures._base import (
    CAPTURES,
    Capture,
    Piece,
    Run,
    capture_for,
    describe,
)
from lswag_plugin.engine.captures.activations import ActivationCapture
from lswag_plugin.engine.captures.flops import FlopsCapture
from lswag_plugin.engine.captures.hessian import HessianGradCapture
from lswag_plugin.engine.captures.input_grads import InputGradsCapture
from lswag_plugin.engine.captures.layer_outputs import LayerOutputCapture
from lswag_plugin.engine.captures.weight_grads import WeightGradsCapture

__all__ = [
    "CAPTURES",
    "ActivationCapture",
    "Capture",
    "FlopsCapture",
    "HessianGradCapture",
    "InputGradsCapture",
    "LayerOutputCapture",
    "Piece",
    "Run",
    "WeightGradsCapture",
    "capture_for",
    "describe",
]
