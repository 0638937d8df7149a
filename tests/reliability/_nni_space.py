"""An NNI model space whose candidates are the catalogue's bad models (imported only when NNI is present)."""

from __future__ import annotations

import warnings

import torch

with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)  # NNI 3.0 does not know torch.nn.Buffer
    from nni.nas.nn.pytorch import LayerChoice, ModelSpace

from tests.reliability._catalogue import ENTRIES

#: The catalogue entries that are candidates (a bad batch or setting is the whole evaluator's).
MODEL_ENTRIES = [e for e in ENTRIES if e.host_level == "model" and not e.kwargs]


class CatalogueSpace(ModelSpace):
    """One choice, ``case``: each candidate is one catalogue model (bad ones and fine ones)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = LayerChoice({e.id: e.model() for e in MODEL_ENTRIES}, label="case")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)
