import pytest
import torch

import lswag_plugin
from tests.proxies._nets import linear_net, sum_loss


def test_fisher_on_a_linear_layer():
    # a_n = W x_n = [1, -3, -1, -2]; ∂(Σ out)/∂a = 1 per minibatch, × n_k / N = 0.5 for the batch.
    # channel saliency = ½ · (1/N) Σ_n (0.5 a_n)² = ½ · (0.25 + 2.25 + 0.25 + 1) / 4, counted once for
    # each of the channel's 2 weights.
    x = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])
    net = linear_net([[1.0, -3.0]])
    s = lswag_plugin.score(
        net, (x, torch.zeros(4).long()), "fisher", loss_fn=sum_loss, device="cpu", batch_size=None
    )
    assert s["fisher"] == pytest.approx(2 * 0.5 * (0.25 + 2.25 + 0.25 + 1.0) / 4)


def test_fisher_counts_each_channel_once_per_weight():
    # Two 1-channel convolutions on the same input, 1×1 and 3×3 (fan-in 1 and 9), summed: with the
    # same saliency per channel the 3×3 one counts 9 times.
    class TwoConvs(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.small = torch.nn.Conv2d(1, 1, 1, bias=False)
            self.large = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
            torch.nn.init.ones_(self.small.weight)
            torch.nn.init.zeros_(self.large.weight)
            self.large.weight.data[0, 0, 1, 1] = 1.0  # the same map as the 1×1 convolution

        def forward(self, x):
            return (self.small(x) + self.large(x)).flatten(1)

    x = torch.arange(8.0).reshape(2, 1, 2, 2)
    s = lswag_plugin.score(
        TwoConvs(), (x, torch.zeros(2).long()), "fisher", loss_fn=sum_loss, device="cpu",
        batch_size=None, minibatches=1,
    )  # fmt: skip
    # a_n = x_n for both; ∂(Σ out)/∂a = 1; Σ_positions a·g = Σ x_n = 6, 22; saliency ½·(36 + 484)/2.
    assert s["fisher"] == pytest.approx((1 + 9) * 0.5 * (36 + 484) / 2)
