import torch
from torch import nn

import lswag_plugin


def test_score_runs_and_lists_passes(small_batch):
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 8)
    )
    s = lswag_plugin.score(net, small_batch, "lswag,nwot,params", device="cpu")
    assert set(s) == {"lswag", "nwot", "params"}
    assert s.passes == ["forward+backward x2"]
    assert s["params"] == sum(p.numel() for p in net.parameters())
    assert torch.isfinite(torch.tensor(s["lswag"]))
