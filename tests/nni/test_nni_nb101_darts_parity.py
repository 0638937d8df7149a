"""NNI's NasBench101 and DARTS hub spaces vs our nb101 and darts builders.

Findings pinned here (docs/nni.md, "NNI's NasBench101 and DARTS hub spaces"):

NasBench101 (NNI's ``_NasBench101CellFixed``):
- The sample maps to our cell one to one (:func:`nb101_arch_from_sample`): NNI prunes as NB101 does and
  keeps the vertex order, as ours does; the vertex widths are the same (NB101's
  ``compute_vertex_channels``).
- NNI builds a 1×1 projection of the cell input for *every* vertex 1..n-1, also for vertices that do
  not read the input: those never run (no gradient, no activation) but count as parameters. Our
  count (= the NB101 API's ``trainable_parameters``) plus those dead projections is NNI's, exactly.
- NNI initialises convolutions with a truncated normal (std √(1/fan_in)), ours with PyTorch's default
  (uniform, std √(1/(3·fan_in))): the same seed gives different weights *and* a different distribution.
- With NNI's weights copied in (by name), outputs are bit-identical; L-SWAG, NWOT and FLOPs agree to
  the last bit once our cell registers its projections before its ops as NNI does (otherwise Λ's sum
  over layers runs in another order: 1 ulp). ``params`` differs by the dead projections.

DARTS (NNI's ``nasnet.DARTS``, ``width``/``num_cells`` fixed ints, no auxiliary head, no drop path):
- The sample maps to a genotype one to one (:func:`darts_arch_from_sample`), except that NNI lets both
  operators of a node read the same input, which no DARTS genotype does (ours rejects it): 3 of 100 NNI
  random samples are genotypes.
- Parameter counts equal our ``style="darts"`` network exactly (affine BN in the ops, bare pools); our
  default ``darts`` (NB301, ``style="naslib"``) has no affine BN in the cell ops.
- NNI builds all 7 candidate ops of each operator slot before keeping the chosen one: the same seed
  gives different weights. With NNI's weights copied in, two roundings differ: the node sum
  (``torch.sum(torch.stack(...))`` vs ``a + b``: outputs by ~1e-7) and the factorized reduction's shift
  (NNI pads then slices: same outputs, other weight-gradient rounding); L-SWAG moves by < 1e-4 relative.
  With both done NNI's way, outputs and every score are bit-identical.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np
import pytest
import torch

pytest.importorskip("nni", reason="NNI is an optional dependency: pip install -e '.[nni]'")

from nni.mutable import SampleValidationError
from nni.nas.hub.pytorch import DARTS as NniDarts  # noqa: N811
from nni.nas.hub.pytorch import NasBench101
from nni.nas.space import SimplifiedModelSpace

import lswag_plugin
from lswag_plugin.data import default_batch
from lswag_plugin.errors import BadArchitecture
from lswag_plugin.nni import (
    darts_arch_from_sample,
    darts_sample_from_arch,
    nb101_arch_from_sample,
    nb101_sample_from_arch,
)
from lswag_plugin.spaces import darts as darts_module
from lswag_plugin.spaces import get_space
from lswag_plugin.spaces.darts import DARTS_V2
from lswag_plugin.spaces.nb101 import vertex_channels

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
#: google-research/nasbench's README cell (the API: trainable_parameters = 2,694,282).
README_CELL = {
    "matrix": [
        [0, 1, 1, 1, 1, 0, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 1, 0],
        [0, 0, 0, 0, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 0],
    ],
    "ops": ["input", C3, C1, MP, C3, C3, "output"],
}
#: Input→output edge (the projection added to the concatenation), 3 vertices into the output (uneven
#: widths, so vertex 3 reads truncated inputs).
FAN3_CELL = {
    "matrix": [[0, 1, 1, 0, 1], [0, 0, 0, 1, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1], [0, 0, 0, 0, 0]],
    "ops": ["input", C3, C1, MP, "output"],
}
#: A chain: only vertex 1 reads the input.
CHAIN_CELL = {"matrix": [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]], "ops": ["input", C1, C3, "output"]}  # fmt: skip
NB101_CELLS = {"readme": README_CELL, "fan3": FAN3_CELL, "chain": CHAIN_CELL}
#: NB101 at full size: (NNI's count, ours).
NB101_FULL_PARAMS = {
    "readme": (3_786_442, 2_694_282),
    "fan3": (2_913_959, 2_624_049),
    "chain": (12_962_698, 11_215_242),
}
#: A genotype of our sampler (``get_space("darts").sample(np.random.default_rng(1))``).
SAMPLED_GENOTYPE = {
    "normal": [["dil_conv_3x3", 0], ["dil_conv_5x5", 1], ["dil_conv_5x5", 0], ["avg_pool_3x3", 2],
               ["avg_pool_3x3", 3], ["dil_conv_3x3", 0], ["sep_conv_3x3", 1], ["max_pool_3x3", 2]],
    "reduce": [["dil_conv_3x3", 0], ["dil_conv_3x3", 1], ["sep_conv_3x3", 2], ["dil_conv_3x3", 1],
               ["sep_conv_3x3", 1], ["dil_conv_5x5", 0], ["dil_conv_5x5", 1], ["avg_pool_3x3", 0]],
}  # fmt: skip
GENOTYPES = {"darts_v2": DARTS_V2, "sampled": SAMPLED_GENOTYPE}
#: DARTS at the paper's size (36 channels, 20 cells) and NB301's (32, 8): NNI = ours (style "darts").
DARTS_FULL_PARAMS = {"darts_v2": (3_349_342, 919_722), "sampled": (2_759_662, 903_850)}

#: Tiny networks for the score comparisons (the same settings on both sides).
NB101_TINY = {"stem_channels": 8, "stacks": 2, "cells_per_stack": 1}
NNI_NB101_TINY = {"stem_out_channels": 8, "num_stacks": 2, "num_modules_per_stack": 1}
DARTS_TINY = {"channels": 4, "cells": 3, "style": "darts"}
NNI_DARTS_TINY = {"width": 4, "num_cells": 3}
PROXIES = "lswag,nwot,params,flops"


def n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def dead_projection_params(arch: Any, stem: int = 128, stacks: int = 3, cells: int = 3) -> int:
    """NNI's extra parameters: a conv1×1-BN projection of the cell input for each vertex not reading it."""
    matrix = np.array(arch["matrix"])
    total, c_in, c_out = 0, stem, stem
    for stack in range(stacks):
        c_out *= 2 if stack else 1
        for _ in range(cells):
            widths = vertex_channels(c_in, c_out, matrix)
            total += sum(c_in * w + 2 * w for t, w in enumerate(widths) if t and not matrix[0, t])
            c_in = c_out
    return total


def nni_frozen(space: torch.nn.Module, sample: dict[str, Any], seed: int = 0) -> Any:
    """Freezes NNI's model space as an NNI experiment does; returns (frozen space, its network)."""
    frozen = SimplifiedModelSpace.from_model(space, None).freeze(sample)
    torch.manual_seed(seed)
    return frozen, frozen.executable_model()


def nni_nb101_name(key: str) -> str:
    """NNI's NasBench101 state-dict key → ours (stem and cells are our ``layers``; no conv_bn_relu)."""
    key = key.replace(".conv_bn_relu", "")
    if key.startswith("stem_conv."):
        return "layers.0." + key.removeprefix("stem_conv.")
    if key.startswith("features."):
        _, index, rest = key.split(".", 2)
        return f"layers.{int(index) + 1}.{rest}"
    return key


# ------------------------------------------------------------------------------------------ NB101
@pytest.mark.parametrize("seed", range(5))
def test_nb101_nni_random_samples_map_to_the_cells_nni_builds(seed: int) -> None:
    simplified = SimplifiedModelSpace.from_model(NasBench101(**NNI_NB101_TINY), None)
    rng = np.random.RandomState(seed)
    while True:
        try:  # a draw over 9 edges (NNI counts them before pruning) raises: draw again
            sample = simplified.random(random_state=rng).sample
            break
        except SampleValidationError:
            continue
    arch = nb101_arch_from_sample(sample)
    # NNI's own pruned copy of the cell ("cell/final", written while validating the sample)
    final = sample["cell/final"]
    n = len(arch["ops"])
    assert [final[f"op{i}"] for i in range(1, n - 1)] == arch["ops"][1:-1]
    assert [final[f"input{i}"] for i in range(1, n)] == [
        [s for s in range(i) if arch["matrix"][s][i]] for i in range(1, n)
    ]
    assert nb101_arch_from_sample(nb101_sample_from_arch(arch)) == arch
    _, theirs = nni_frozen(NasBench101(**NNI_NB101_TINY), sample)
    ours = get_space("nb101", **NB101_TINY).build(arch)
    dead = dead_projection_params(arch, 8, 2, 1)
    assert n_params(theirs) == n_params(ours) + dead


@pytest.mark.parametrize("name", NB101_CELLS)
def test_nb101_full_size_params_differ_by_nni_dead_projections(name: str) -> None:
    arch = NB101_CELLS[name]
    theirs = NasBench101.frozen_factory(nb101_sample_from_arch(arch))()
    ours = get_space("nb101").num_params(arch)
    assert (n_params(theirs), ours) == NB101_FULL_PARAMS[name]
    assert n_params(theirs) - ours == dead_projection_params(arch)


def test_nb101_same_seed_gives_nni_a_truncated_normal_init() -> None:
    _, theirs = nni_frozen(NasBench101(**NNI_NB101_TINY), nb101_sample_from_arch(README_CELL))
    torch.manual_seed(0)
    ours = get_space("nb101", **NB101_TINY).build(README_CELL)
    w_theirs, w_ours = theirs.stem_conv.conv_bn_relu[0].weight, ours.layers[0][0].weight
    bound = 1 / 27**0.5  # fan_in 3·3·3: PyTorch's uniform bound; NNI's std (truncated at 2 std)
    assert w_ours.abs().max() <= bound < w_theirs.abs().max() <= 2 * bound


@pytest.mark.parametrize("name", ["readme", "fan3"])
def test_nb101_same_scores_with_nni_weights(name: str) -> None:
    arch = NB101_CELLS[name]
    _, theirs = nni_frozen(NasBench101(**NNI_NB101_TINY), nb101_sample_from_arch(arch))
    ours = get_space("nb101", **NB101_TINY).build(arch)
    state = {nni_nb101_name(k): v for k, v in theirs.state_dict().items()}
    ours_keys = set(ours.state_dict())
    assert ours_keys <= set(state)
    assert all(".projections." in k for k in set(state) - ours_keys)  # NNI's dead projections
    ours.load_state_dict({k: state[k] for k in ours_keys})

    batch = default_batch(8, resolution=16, seed=0)
    nni_scores = lswag_plugin.score(theirs, batch, PROXIES, device="cpu", batch_size=None)
    our_scores = lswag_plugin.score(ours, batch, PROXIES, device="cpu", batch_size=None)
    assert nni_scores["params"] - our_scores["params"] == dead_projection_params(arch, 8, 2, 1)
    assert our_scores["nwot"] == nni_scores["nwot"]
    assert our_scores["flops"] == nni_scores["flops"]
    assert our_scores["lswag"] == pytest.approx(nni_scores["lswag"], rel=1e-12)
    theirs.eval(), ours.eval()
    with torch.no_grad():
        assert torch.equal(theirs(batch[0]), ours(batch[0]))

    # Λ sums over layers in module order: with our projections registered before the ops (NNI's
    # order), every score but params is bit-identical.
    for cell in ours.layers:
        if hasattr(cell, "projections"):
            cell._modules = OrderedDict(
                projections=cell._modules["projections"], ops=cell._modules["ops"]
            )
    reordered = lswag_plugin.score(ours, batch, PROXIES, device="cpu", batch_size=None)
    assert {k: v for k, v in reordered.items() if k != "params"} == {
        k: v for k, v in nni_scores.items() if k != "params"
    }
    assert reordered.components == nni_scores.components


def test_nb101_sample_errors_name_the_problem() -> None:
    with pytest.raises(BadArchitecture, match="lacks cell/op1"):
        nb101_arch_from_sample({"cell/num_nodes": 3})
    sample = nb101_sample_from_arch(CHAIN_CELL) | {"cell/input2": [2]}
    with pytest.raises(BadArchitecture, match=r"vertex 2 reads only vertices 0\.\.1"):
        nb101_arch_from_sample(sample)


# ------------------------------------------------------------------------------------------ DARTS
def test_darts_v2_matches_nni_load_searched_model() -> None:
    """NNI's own DARTS-V2 (``load_searched_model``, 36 channels, 20 cells) is our DARTS_V2 network."""
    theirs = NniDarts.load_searched_model("darts-v2")
    assert n_params(theirs) == get_space("darts-eval").num_params(DARTS_V2) == 3_349_342


@pytest.mark.parametrize("name", GENOTYPES)
def test_darts_full_size_params_match_the_darts_style(name: str) -> None:
    arch = GENOTYPES[name]
    sample = darts_sample_from_arch(arch)
    assert darts_arch_from_sample(sample) == arch
    paper = NniDarts.frozen_factory(sample)(width=36, num_cells=20)
    nb301 = NniDarts.frozen_factory(sample)(width=32, num_cells=8)
    expected = DARTS_FULL_PARAMS[name]
    assert (n_params(paper), n_params(nb301)) == expected
    assert get_space("darts-eval").num_params(arch) == expected[0]
    assert get_space("darts", style="darts").num_params(arch) == expected[1]
    # our default darts (NB301 as NASLib builds it): no affine BN in the cell ops
    naslib = get_space("darts").build(arch)
    affine = sum(
        2 * m.num_features
        for cell in get_space("darts", style="darts").build(arch).cells
        for m in cell.edges.modules()
        if isinstance(m, torch.nn.BatchNorm2d)
    )
    assert n_params(nb301) - n_params(naslib) == affine
    # NNI's auxiliary head (off by default) adds its own parameters; drop path adds none
    aux = NniDarts.frozen_factory(sample)(
        width=36, num_cells=20, auxiliary_loss=True, drop_path_prob=0.2
    )
    assert n_params(aux) - n_params(paper) == 476_426


def test_darts_nni_random_samples_are_genotypes_only_when_inputs_differ() -> None:
    simplified = SimplifiedModelSpace.from_model(NniDarts(**NNI_DARTS_TINY), None)
    rng = np.random.RandomState(0)
    genotypes = []
    for _ in range(100):
        sample = simplified.random(random_state=rng).sample
        repeated = any(
            sample[f"{kind}/input_{node}_0"] == sample[f"{kind}/input_{node}_1"]
            for kind in ("normal", "reduce")
            for node in range(2, 6)
        )
        if repeated:
            with pytest.raises(BadArchitecture, match=r"twice.*NNI's DARTS space"):
                darts_arch_from_sample(sample)
        else:
            genotypes.append((sample, darts_arch_from_sample(sample)))
    assert len(genotypes) == 3  # expected (1/2 · 2/3 · 3/4 · 4/5)² = 1/25 of the samples
    for sample, arch in genotypes:
        _, theirs = nni_frozen(NniDarts(**NNI_DARTS_TINY), sample)
        assert n_params(theirs) == get_space("darts", **DARTS_TINY).num_params(arch)


def stack_sum_forward(
    self: darts_module.DartsCell, s0: torch.Tensor, s1: torch.Tensor
) -> torch.Tensor:
    """Our cell, summing a node's two operators as NNI's Cell does."""
    states = [self.preprocess0(s0), self.preprocess1(s1)]
    for a in range(0, 2 * darts_module.NODES, 2):
        pair = [self.edges[k](states[self.indices[k]]) for k in (a, a + 1)]
        states.append(torch.sum(torch.stack(pair), 0))
    return torch.cat(states[2:], dim=1)


def pad_then_shift_forward(self: darts_module.FactorizedReduce, x: torch.Tensor) -> torch.Tensor:
    """Our factorized reduction, shifting the second branch as NNI's does (pad by one, then slice)."""
    x = self.relu(x)
    shifted = torch.nn.functional.pad(x, (0, 1, 0, 1))[:, :, 1:, 1:]
    return self.bn(torch.cat([self.conv_1(x), self.conv_2(shifted)], dim=1))


@pytest.mark.parametrize("name", GENOTYPES)
def test_darts_same_scores_with_nni_weights(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    arch = GENOTYPES[name]
    _, theirs = nni_frozen(NniDarts(**NNI_DARTS_TINY), darts_sample_from_arch(arch))
    torch.manual_seed(0)
    ours = get_space("darts", **DARTS_TINY).build(arch)
    theirs_state, ours_state = theirs.state_dict(), ours.state_dict()
    assert [t.shape for t in theirs_state.values()] == [t.shape for t in ours_state.values()]
    # NNI built all 7 candidates of each slot: same seed, other weights
    assert not all(torch.equal(a, b) for a, b in zip(theirs_state.values(), ours_state.values()))
    ours.load_state_dict(dict(zip(ours_state, theirs_state.values())))

    batch = default_batch(8, resolution=16, seed=0)
    nni_scores = lswag_plugin.score(theirs, batch, PROXIES, device="cpu", batch_size=None)
    our_scores = lswag_plugin.score(ours, batch, PROXIES, device="cpu", batch_size=None)
    for proxy in ("params", "flops", "nwot"):
        assert our_scores[proxy] == nni_scores[proxy]
    assert our_scores["lswag"] == pytest.approx(nni_scores["lswag"], rel=1e-4)
    theirs.eval(), ours.eval()
    with torch.no_grad():
        assert torch.allclose(theirs(batch[0]), ours(batch[0]), rtol=0, atol=1e-6)
        monkeypatch.setattr(darts_module.DartsCell, "forward", stack_sum_forward)
        assert torch.equal(theirs(batch[0]), ours(batch[0]))
    # the same outputs, but the weight gradients of the shifted conv still round differently
    # (its input is one row and column larger in NNI) until the shift is done NNI's way too
    monkeypatch.setattr(darts_module.FactorizedReduce, "forward", pad_then_shift_forward)
    same_sum = lswag_plugin.score(ours, batch, PROXIES, device="cpu", batch_size=None)
    assert same_sum.values == nni_scores.values
    assert same_sum.components == nni_scores.components
