import numpy as np
import pytest
import torch
from torch import nn

import lswag_plugin


def test_grasp_on_a_quadratic_loss():
    # loss_k = ½ mean_{i∈k} (w·x_i)²: g_k = mean (w·x_i) x_i, H_k = mean x_i x_iᵀ, g = ½(g_1 + g_2),
    # H g = ½(H_1 + H_2) g, grasp = −w · H g.
    x = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, -1.0]])
    w = np.array([0.5, -1.5])
    halves = [x[:2], x[2:]]
    g = sum(((h @ w)[:, None] * h).mean(0) for h in halves) / 2
    hg = sum((h.T @ h / len(h)) @ g for h in halves) / 2
    expected = -(w @ hg)

    net = nn.Linear(2, 1, bias=False)
    with torch.no_grad():
        net.weight.copy_(torch.tensor(w[None], dtype=torch.float32))
    s = lswag_plugin.score(
        net,
        (torch.tensor(x, dtype=torch.float32), torch.zeros(4).long()),
        "grasp",
        loss_fn=lambda out, y: 0.5 * (out**2).mean(),
        device="cpu",
        batch_size=None,
    )
    assert s["grasp"] == pytest.approx(expected, rel=1e-5)
    assert s.passes == ["forward+backward x2", "forward+double backward x2"]
