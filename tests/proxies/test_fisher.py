import pytest
import torch

import lswag_plugin
from tests.proxies._nets import linear_net, sum_loss


def test_fisher_on_a_linear_layer():
    # a_n = W x_n = [1, -3, -1, -2]; ∂(Σ out)/∂a = 1 per minibatch, × n_k / N = 0.5 for the batch.
    # fisher = ½ · (1/N) Σ_n (0.5 a_n)² = ½ · (0.25 + 2.25 + 0.25 + 1) / 4.
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
    net = linear_net([[1.0, -3.0]])
    s = lswag_plugin.score(
        net, (x, torch.zeros(4).long()), "fisher", loss_fn=sum_loss, device="cpu", batch_size=None
    )
    assert s["fisher"] == pytest.approx(0.5 * (0.25 + 2.25 + 0.25 + 1.0) / 4)
