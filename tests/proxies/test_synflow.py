import math

import pytest
import torch
from torch import nn

import lswag_plugin
from tests.proxies._nets import linear_net, tiny_cnn


def test_synflow_on_a_linear_layer():
    # |W| = [1, 3], |b| = 0.5; input = ones: R = 1 + 3 + 0.5, ∂R/∂W = [1, 1] → Σ|W ⊙ ∂R/∂W| = 4.
    net = linear_net([[1.0, -3.0]], bias=[-0.5])
    s = lswag_plugin.score(net, (torch.randn(4, 2), torch.zeros(4).long()), "synflow", device="cpu")
    assert s["synflow"] == pytest.approx(math.log(4.0))
    assert s.passes == ["special:synflow"]


def test_synflow_removes_batch_norm_and_is_label_free(small_batch):
    x, y = small_batch
    a = lswag_plugin.score(tiny_cnn(), (x, y), "synflow", device="cpu")["synflow"]
    b = lswag_plugin.score(tiny_cnn(), (x, (y + 1) % 8), "synflow", device="cpu")["synflow"]
    no_bn = nn.Sequential(*[m for m in tiny_cnn() if not isinstance(m, nn.BatchNorm2d)])
    c = lswag_plugin.score(no_bn, (x, y), "synflow", device="cpu")["synflow"]
    assert a == b == pytest.approx(c)
    assert math.isfinite(a)
