"""snip, grad_norm, plain on one linear layer with hand-computed gradients.

W = [[1, -3]], loss = Σ outputs, x = [[1,0],[0,1],[2,1],[1,1]] in K = 2 minibatches: g_1 = x_1 + x_2 =
[1, 1], g_2 = x_3 + x_4 = [3, 2], the batch gradient (n_k / N weights) g = [2, 1.5].
"""

import math

import pytest
import torch

import lswag_plugin
from tests.proxies._nets import linear_net, sum_loss

X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
Y = torch.zeros(4, dtype=torch.int64)


def _score(proxy):
    net = linear_net([[1.0, -3.0]])
    return lswag_plugin.score(net, (X, Y), proxy, loss_fn=sum_loss, device="cpu", batch_size=None)[
        proxy
    ]


def test_snip_is_abs_weight_times_gradient():
    assert _score("snip") == pytest.approx(1 * 2 + 3 * 1.5)


def test_grad_norm_is_the_gradient_norm():
    assert _score("grad_norm") == pytest.approx(math.sqrt(2**2 + 1.5**2))


def test_plain_is_weight_times_gradient():
    assert _score("plain") == pytest.approx(1 * 2 - 3 * 1.5)
