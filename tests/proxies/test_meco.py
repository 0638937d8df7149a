import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import ProxyNotApplicable


def test_meco_min_eigenvalue_of_channel_correlation():
    # Sample 0 after the ReLU is a 2×1×3 map: channels [0,1,2] and [0,2,1] have Pearson r = 0.5, so the
    # 2×2 correlation has eigenvalues 1 ± 0.5 and MeCo = 0.5.
    net = nn.Sequential(nn.ReLU(), nn.Flatten(), nn.Linear(6, 2))
    x = torch.tensor(
        [[[[0.0, 1.0, 2.0]], [[0.0, 2.0, 1.0]]], [[[1.0, 1.0, 1.0]], [[2.0, 3.0, 1.0]]]]
    )
    s = lswag_plugin.score(net, (x, torch.tensor([0, 1])), "meco", device="cpu", batch_size=None)
    assert s["meco"] == pytest.approx(0.5)


def test_meco_needs_maps_with_more_positions_than_channels():
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 2))
    with pytest.raises(ProxyNotApplicable, match="meco"):
        lswag_plugin.score(
            net, (torch.rand(4, 6), torch.tensor([0, 1, 0, 1])), "meco", device="cpu"
        )
