import math

import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import ProxyNotApplicable
from tests.proxies._nets import linear_net


def test_l2_norm_sums_layer_norms():
    net = nn.Sequential(linear_net([[1.0, -3.0]]), nn.Linear(1, 2, bias=False))
    with torch.no_grad():
        net[1].weight.copy_(torch.tensor([[3.0], [4.0]]))
    x, y = torch.rand(4, 2), torch.zeros(4, dtype=torch.int64)
    s = lswag_plugin.score(net, (x, y), "l2_norm", device="cpu")
    assert s["l2_norm"] == pytest.approx(math.sqrt(10) + 5)
    assert s.passes == []  # needs no pass


def test_l2_norm_needs_weight_layers():
    with pytest.raises(ProxyNotApplicable, match="l2_norm"):
        lswag_plugin.score(
            nn.Sequential(nn.ReLU()),
            (torch.rand(4, 2), torch.zeros(4).long()),
            "l2_norm",
            device="cpu",
        )
