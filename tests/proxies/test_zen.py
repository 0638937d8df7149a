import math

import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import ProxyNotApplicable
from lswag_plugin.proxies.zen import gaussian_init, pre_pooling_features
from tests.proxies._nets import tiny_cnn, tiny_vit


def test_pre_pooling_features_reads_the_global_pool_input():
    net = tiny_cnn()
    x = torch.randn(2, 3, 8, 8)
    feats = pre_pooling_features(net, x)
    assert feats.shape == (2, 8, 4, 4)
    assert torch.equal(feats.mean((2, 3)), net[:7](x).flatten(1))


def test_pre_pooling_features_uses_timm_forward_features():
    vit = tiny_vit().eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(pre_pooling_features(vit, x), vit.forward_features(x))


def test_gaussian_init():
    net = tiny_cnn()
    gaussian_init(net)
    assert torch.all(net[0].bias == 0) and torch.all(net[1].weight == 1)
    assert net[3].weight.std().item() == pytest.approx(1.0, abs=0.2)


def test_zen_is_the_log_feature_gap_plus_bn_scaling(small_batch):
    # Without batch norm the score is log of the mean L1 gap between the two forwards.
    net = nn.Sequential(
        nn.Conv2d(3, 4, 1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8)
    )
    s = lswag_plugin.score(net, small_batch, "zen", device="cpu", options={"zen": {"alpha": 1e-2}})
    s_small = lswag_plugin.score(
        net, small_batch, "zen", device="cpu", options={"zen": {"alpha": 1e-3}}
    )
    # The network is piecewise linear: a 10× smaller perturbation gives a ~10× smaller gap.
    assert s["zen"] - s_small["zen"] == pytest.approx(math.log(10), abs=0.05)
    assert s.passes == ["special:zen"]


def test_zen_needs_features_it_can_read():
    with pytest.raises(ProxyNotApplicable, match="zen"):
        lswag_plugin.score(
            nn.Sequential(nn.ReLU()), (torch.rand(4, 3), torch.zeros(4).long()), "zen", device="cpu"
        )
