"""NNI's NasBench201 hub space vs our nb201 builder: same networks, same scores.

Findings pinned here (C=16, N=5, the NB201 network):
- Parameter counts are identical for every cell tried, and the state dicts line up tensor by tensor.
- NNI builds all 5 candidate ops of every edge before keeping the chosen one, so the same torch seed gives
  different initial weights: weights must be copied to compare scores.
- With the same weights, the only difference is how a cell node sums its inputs (NNI: ``torch.sum(torch.stack(...))``, ours: ``a + b + c``). That changes float rounding,
  outputs by ~1e-7 and L-SWAG by up to ~0.5 % (Λ's 1/σ over two minibatches is sensitive to it). With
  the summation done NNI's way, outputs and every score are bit-identical.
"""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("nni", reason="NNI is an optional dependency: pip install -e '.[nni]'")

from nni.nas.hub.pytorch import NasBench201
from nni.nas.space import SimplifiedModelSpace

import lswag_plugin
from lswag_plugin.data import default_batch
from lswag_plugin.nni import nb201_arch_from_sample
from lswag_plugin.spaces import get_space
from lswag_plugin.spaces import nb201 as nb201_module

#: A spread of cells: all convs, pools/skips, a disconnected one, and mixtures.
SAMPLES = [
    {"0_1": "conv_3x3", "0_2": "conv_3x3", "1_2": "conv_3x3", "0_3": "skip_connect", "1_3": "conv_3x3", "2_3": "conv_3x3"},
    {"0_1": "avg_pool_3x3", "0_2": "skip_connect", "1_2": "conv_1x1", "0_3": "none", "1_3": "avg_pool_3x3", "2_3": "conv_1x1"},
    {"0_1": "none", "0_2": "none", "1_2": "conv_3x3", "0_3": "none", "1_3": "skip_connect", "2_3": "none"},
    {"0_1": "conv_1x1", "0_2": "none", "1_2": "avg_pool_3x3", "0_3": "conv_3x3", "1_3": "none", "2_3": "skip_connect"},
]  # fmt: skip


def nni_and_ours(sample: dict[str, str]) -> tuple[torch.nn.Module, torch.nn.Module, str]:
    """Returns NNI's network, ours with NNI's weights copied in, and the NB201 string."""
    space = SimplifiedModelSpace.from_model(NasBench201(), None)
    frozen = space.freeze({f"cell/{k}": v for k, v in sample.items()})
    arch = nb201_arch_from_sample(frozen.sample)
    torch.manual_seed(0)
    theirs = frozen.executable_model()
    ours = get_space("nb201").build(arch)
    theirs_state, ours_state = theirs.state_dict(), ours.state_dict()
    assert [t.shape for t in theirs_state.values()] == [t.shape for t in ours_state.values()]
    ours.load_state_dict(dict(zip(ours_state, theirs_state.values())))
    return theirs, ours, arch


def stack_sum_forward(self: nb201_module.Cell, x: torch.Tensor) -> torch.Tensor:
    """Our cell, summing node inputs as NNI's NasBench201Cell does."""
    nodes, k = [x], 0
    for i in (1, 2, 3):
        nodes.append(torch.sum(torch.stack([self.edges[k + j](nodes[j]) for j in range(i)]), 0))
        k += i
    return nodes[-1]


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda s: "-".join(s.values()))
def test_parameter_counts_match(sample: dict[str, str]) -> None:
    theirs, ours, arch = nni_and_ours(sample)
    count = sum(p.numel() for p in theirs.parameters())
    assert count == sum(p.numel() for p in ours.parameters())
    assert count == get_space("nb201").num_params(arch)


@pytest.mark.parametrize("sample", SAMPLES[:2], ids=lambda s: "-".join(s.values()))
def test_same_scores_for_same_weights_seed_and_batch(
    sample: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    batch = default_batch(8, resolution=16, seed=0)
    proxies = "lswag,nwot,zico"
    theirs, ours, _ = nni_and_ours(sample)
    nni_scores = lswag_plugin.score(theirs, batch, proxies, device="cpu", batch_size=None)
    our_scores = lswag_plugin.score(ours, batch, proxies, device="cpu", batch_size=None)
    for name in ("lswag", "nwot", "zico"):  # only float rounding of the node sums differs
        assert our_scores[name] == pytest.approx(nni_scores[name], rel=0.02)
    theirs.eval(), ours.eval()
    with torch.no_grad():
        assert torch.allclose(theirs(batch[0]), ours(batch[0]), rtol=0, atol=1e-5)
        monkeypatch.setattr(nb201_module.Cell, "forward", stack_sum_forward)
        assert torch.equal(theirs(batch[0]), ours(batch[0]))
    same_sum = lswag_plugin.score(ours, batch, proxies, device="cpu", batch_size=None)
    assert same_sum.values == nni_scores.values
    assert same_sum.components == nni_scores.components
