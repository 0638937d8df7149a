"""jacov and epe_nas: a linear model has the same input Jacobian W for every sample (correlation 1)."""

import math

import pytest
import torch

import lswag_plugin
from tests.proxies._nets import linear_net

K = 1e-5


def _score(proxy, y, num_classes=None):
    x = torch.rand(len(y), 3, generator=torch.Generator().manual_seed(0))
    net = linear_net(
        [[1.0, -2.0, 0.5], [0.0, 1.0, 3.0], [1.0, 0.0, 0.0]]
    )  # ∂Σout/∂x = [2, -1, 3.5]
    return lswag_plugin.score(
        net, (x, y), proxy, device="cpu", batch_size=None, num_classes=num_classes
    )[proxy]


def test_jacov_of_identical_jacobians():
    # corr = all ones (S × S): eigenvalues S (once) and 0 (S − 1 times).
    s = 6
    expected = -(math.log(s + K) + 1 / (s + K) + (s - 1) * (math.log(K) + 1 / K))
    assert _score("jacov", torch.tensor([0, 1, 0, 1, 0, 1])) == pytest.approx(expected, rel=1e-6)


def test_epe_nas_sums_per_class_log_correlations():
    # classes {0: 3 samples, 1: 2 samples, 2: 1 sample}: s_c = m² log(1 + k), one sample gives log(1 + k)
    y = torch.tensor([0, 0, 1, 0, 1, 2])
    expected = (9 + 4 + 1) * math.log(1 + K)
    assert _score("epe_nas", y) == pytest.approx(expected, rel=1e-6)


def test_jacobian_proxies_rank_a_disconnected_network_lowest():
    x, y = torch.rand(4, 3), torch.tensor([0, 1, 0, 1])
    net = linear_net([[0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])  # output independent of the input
    s = lswag_plugin.score(net, (x, y), "jacov,epe_nas", device="cpu", batch_size=None)
    assert s["jacov"] == -math.inf
    assert s["epe_nas"] == -math.inf
