"""Issue 2's hand-checked values: Ψ on a 2-layer ReLU MLP, Λ (and ZiCo) on a linear layer."""

import math

import pytest
import torch
from torch import nn

import lswag_plugin
from tests.proxies._nets import linear_net, sum_loss

# Ψ: layer 1 = ReLU(W1 x) with W1 = [[1,0],[0,1],[1,-1]] gives, over the 4 samples, the neuron patterns
# 1101, 1011, 0101 (3 distinct); layer 2 = ReLU(W2 h) with two identical rows [1,-1,0] gives 0101 twice
# (1 distinct, and the same as layer 1's third neuron): per-layer Ψ = 3 + 1 = 4, union Ψ = 3.
MLP_X = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [2.0, 1.0]])


def _mlp() -> nn.Module:
    net = nn.Sequential(
        nn.Linear(2, 3, bias=False),
        nn.ReLU(),
        nn.Linear(3, 2, bias=False),
        nn.ReLU(),
        nn.Linear(2, 2),
    )
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]))
        net[2].weight.copy_(torch.tensor([[1.0, -1.0, 0.0], [1.0, -1.0, 0.0]]))
    return net


@pytest.mark.parametrize(("mode", "expected"), [("per_layer", 4.0), ("union", 3.0)])
def test_psi_on_a_two_layer_relu_mlp(mode, expected):
    s = lswag_plugin.score(
        _mlp(),
        (MLP_X, torch.tensor([0, 1, 0, 1])),
        "lswag,swap",
        device="cpu",
        batch_size=None,
        options={"lswag": {"pattern_count": mode}},
    )
    assert s.components["lswag.psi"] == expected
    assert s["swap"] == expected


# Λ: ReLU → Linear(2 → 1, no bias), loss = Σ outputs, non-negative x, K = 2 minibatches of 2:
# |g_1| = x_1 + x_2 = [1, 1], |g_2| = x_3 + x_4 = [3, 2] → σ = [1, 0.5] → Λ = log(1/1 + 1/0.5) = log 3;
# ZiCo = log(mean/σ summed) = log(2/1 + 1.5/0.5) = log 5. Ψ over the ReLU: patterns 1011, 0111 → 2.
LIN_X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 1.0]])


def test_lambda_and_zico_on_a_linear_layer_with_known_gradients():
    s = lswag_plugin.score(
        linear_net([[0.5, -0.25]]),
        (LIN_X, torch.zeros(4, dtype=torch.int64)),
        "lswag,zico",
        loss_fn=sum_loss,
        device="cpu",
        batch_size=None,
    )
    assert s.components["lswag.lambda"] == pytest.approx(math.log(3))
    assert s.components["lswag.psi"] == 2
    assert s["lswag"] == pytest.approx(2 * math.log(3))
    assert s["zico"] == pytest.approx(math.log(5))
