"""Issue 2's bad-input list: a clear error, or NaN plus a warning, never a half-done score."""

import math

import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import BadBatch, NonFiniteOutputWarning, ProxyNotApplicable


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU(), nn.Linear(8, 4))


def _batch(n: int = 8):
    return torch.randn(n, 3, 2, 2), torch.arange(n) % 4


def test_no_activation_module_names_the_proxy():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    with pytest.raises(ProxyNotApplicable, match=r"lswag.*activation modules"):
        lswag_plugin.score(net, _batch(), "lswag", device="cpu")


def test_output_that_does_not_match_the_labels():
    with pytest.raises(BadBatch, match="model output has shape"):
        lswag_plugin.score(
            nn.Sequential(nn.Linear(2, 4), nn.ReLU()), _batch(), "lswag", device="cpu"
        )
    with pytest.raises(BadBatch, match="num_classes"):
        lswag_plugin.score(_mlp(), _batch(), "lswag", device="cpu", num_classes=10)
    x, _ = _batch()
    with pytest.raises(BadBatch, match="out of range"):
        lswag_plugin.score(_mlp(), (x, torch.full((8,), 7)), "lswag", device="cpu")


def test_batch_smaller_than_two():
    with pytest.raises(BadBatch, match="at least 2"):
        lswag_plugin.score(_mlp(), _batch(1), "lswag", device="cpu")


def test_nan_output_gives_nan_scores_and_a_warning():
    net = _mlp()
    with torch.no_grad():
        net[3].bias[0] = math.nan
    with pytest.warns(NonFiniteOutputWarning, match="NaN"):
        s = lswag_plugin.score(net, _batch(), "lswag,snip,params", device="cpu")
    assert math.isnan(s["lswag"]) and math.isnan(s["snip"])
    assert s["params"] == sum(p.numel() for p in net.parameters())


def test_caller_model_untouched_after_an_error():
    net = nn.Sequential(nn.Flatten(), nn.Linear(12, 4))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    with pytest.raises(ProxyNotApplicable):
        lswag_plugin.score(net, _batch(), "lswag", device="cpu")
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())
    assert all(not m._forward_hooks for m in net.modules())
