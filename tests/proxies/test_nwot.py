import math

import numpy as np
import pytest
import torch

import lswag_plugin
from tests.proxies.test_lswag import MLP_X, _mlp


def test_nwot_is_the_logdet_of_the_hamming_agreement_kernel():
    # Binary codes of the 4 samples (see test_lswag): layer 1 then layer 2 of the 2-layer ReLU MLP.
    codes = np.array(
        [[1, 1, 0, 0, 0], [1, 0, 1, 1, 1], [0, 1, 0, 0, 0], [1, 1, 1, 1, 1]], dtype=float
    )
    kernel = codes @ codes.T + (1 - codes) @ (1 - codes).T
    s = lswag_plugin.score(
        _mlp(), (MLP_X, torch.tensor([0, 1, 0, 1])), "nwot", device="cpu", batch_size=None
    )
    assert s["nwot"] == pytest.approx(np.linalg.slogdet(kernel)[1])


def test_nwot_of_identical_codes_is_minus_infinity():
    x = torch.ones(4, 2)  # every sample gives the same code: a singular kernel
    s = lswag_plugin.score(_mlp(), (x, torch.tensor([0, 1, 0, 1])), "nwot", device="cpu")
    assert s["nwot"] == -math.inf
