"""AZ-NAS: the stage rule, exact values on hand-made networks, the shared passes, the aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.engine import registry
from lswag_plugin.engine.captures.stage_features import StageFeature
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.engine.structure import UnitCall, select_stages, units_of
from lswag_plugin.errors import BadData
from lswag_plugin.proxies import resolve_names
from lswag_plugin.proxies.az_nas import (
    AZ_PROXIES,
    AZReference,
    az_nas_pool,
    feature_entropy,
    sample_reference,
)

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
AZ = ",".join(AZ_PROXIES)


@pytest.fixture()
def stages_of(monkeypatch: pytest.MonkeyPatch):
    """Returns ``f(model, batch) -> StageFeatures`` (a test proxy that keeps ``ctx.stages``)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    kept = {}

    @register_proxy("test_stages", needs=Needs.STAGE_FEATURES)
    def keep(ctx) -> float:
        kept["stages"] = ctx.stages
        return 0.0

    def run(model: nn.Module, batch) -> object:
        lswag_plugin.score(model, batch, "test_stages", device="cpu")
        return kept["stages"]

    return run


def _images(n: int, size: int, channels: int = 3, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, size, size, generator=g), torch.arange(n) % classes


def _described(stages) -> list[tuple[str, tuple[int, ...]]]:
    return [(f.name, f.shape) for f in stages.features]


# -- the stage rule ------------------------------------------------------------------------------


def test_nb201_has_a_stem_and_three_stages(stages_of) -> None:
    from lswag_plugin.spaces import get_space

    torch.manual_seed(0)
    net = get_space("nb201").build(NB201_ARCH)
    stages = stages_of(net, _images(4, 32))
    assert stages.kind == "cnn" and stages.has_stem and stages.problem is None
    assert _described(stages) == [
        ("input of cells.0", (16, 32, 32)),  # the stem's output (conv + BN)
        ("cells.4", (16, 32, 32)),
        ("cells.10", (32, 16, 16)),
        ("lastact.1", (64, 8, 8)),
    ]
    assert [f.count for f in stages.features] == [4 * 32 * 32, 4 * 32 * 32, 4 * 16 * 16, 4 * 8 * 8]
    # Trainability's blocks: every cell (the two residual reductions included), the stem first.
    names = [j.name for j in stages.jacobians]
    assert len(names) == 17 and names[0] == "input of cells.0 -> cells.0"
    assert names[-1] == "cells.15 -> cells.16"
    assert all(j.probe_sq > 0 and j.sigma > 0 for j in stages.jacobians)


def test_resnet18_has_the_max_pool_as_stem_and_four_stages(stages_of) -> None:
    import timm

    torch.manual_seed(0)
    net = timm.create_model("resnet18", num_classes=10)
    stages = stages_of(net, _images(4, 64))
    assert _described(stages) == [
        ("input of layer1.0", (64, 16, 16)),
        ("layer1.1", (64, 16, 16)),
        ("layer2.1", (128, 8, 8)),
        ("layer3.1", (256, 4, 4)),
        ("layer4.1", (512, 2, 2)),
    ]
    assert [j.name.split(" -> ")[1] for j in stages.jacobians] == [
        f"layer{i}.{j}" for i in range(1, 5) for j in range(2)
    ]


def test_vit_blocks_split_in_four_groups(stages_of) -> None:
    import timm

    torch.manual_seed(0)
    net = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, num_classes=10)
    stages = stages_of(net, _images(4, 32))
    assert stages.kind == "tokens" and stages.has_stem
    tokens = (32 // 8) ** 2 + 1  # patches + class token
    assert _described(stages) == [
        ("input of blocks.0", (tokens, 192)),
        ("blocks.2", (tokens, 192)),
        ("blocks.5", (tokens, 192)),
        ("blocks.8", (tokens, 192)),
        ("blocks.11", (tokens, 192)),
    ]
    assert stages.features[0].count == 4 * tokens
    assert [j.name.split(" -> ")[1] for j in stages.jacobians] == [f"blocks.{i}" for i in range(12)]


def test_outputs_changed_in_place_are_skipped(stages_of) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(inplace=True),  # overwrites the conv's output
        nn.Conv2d(4, 4, 3, stride=2, padding=1),
        nn.ReLU(inplace=True),
        nn.AdaptiveAvgPool2d(1),  # parameter-free 1×1: not a feature
        nn.Flatten(),
        nn.Linear(4, 10),
    )
    stages = stages_of(net, _images(4, 8))
    assert _described(stages) == [("1", (4, 8, 8)), ("3", (4, 4, 4))]


def test_units_expand_plain_containers() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ModuleList([nn.ReLU(), nn.Conv2d(4, 4, 3)]))
    assert [name for name, _ in units_of(nn.Sequential(net))] == ["0.0", "0.1.0", "0.1.1"]


def _call(name, shape, composite=True, params=True, **flags) -> UnitCall:
    return UnitCall(name, composite, params, shape, shape, **flags)


def test_select_stages_splits_13_blocks_as_4_3_3_3() -> None:
    calls = [_call("embed", (2, 9, 8))] + [_call(f"b{i}", (2, 10, 8)) for i in range(13)]
    selection = select_stages(calls)
    assert selection.kind == "tokens"
    assert selection.stem == (1, "input")
    assert [calls[i].name for i in selection.stages] == ["b3", "b6", "b9", "b12"]


def test_select_stages_cnn_rule() -> None:
    calls = [
        _call("conv", (2, 8, 8, 8), composite=False, reads_model_input=True),
        _call("bn", (2, 8, 8, 8), composite=False),
        _call("block1", (2, 8, 8, 8)),
        _call("block2", (2, 8, 8, 8), output_changed=True),  # overwritten later: skipped
        _call("down", (2, 16, 4, 4)),
        _call("gap", (2, 16, 1, 1), params=False),
        _call("head", (2, 10)),
    ]
    selection = select_stages(calls)
    assert selection.stem == (2, "input")
    assert [calls[i].name for i in selection.stages] == ["block1", "down"]
    # The first block is the stem itself (it reads the network's input): its output is the stem.
    calls[0] = _call("stem", (2, 8, 8, 8), reads_model_input=True)
    selection = select_stages(calls)
    assert selection.stem == (0, "output")
    assert [calls[i].name for i in selection.stages] == ["block1", "down"]


# -- exact values on a hand-made network ----------------------------------------------------------

C = 4


class Pointwise(nn.Module):
    """A 1×1 convolution with given weights (a composite unit: it holds the conv)."""

    def __init__(self, weight: torch.Tensor, pool: bool = False) -> None:
        super().__init__()
        self.conv = nn.Conv2d(C, C, 1, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(weight.reshape(C, C, 1, 1))
        self.pool = nn.AvgPool2d(2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.conv(x))


def _hand_net(w0: torch.Tensor, a1: float, a2: float) -> nn.Module:
    """stem F0 = W0 x; stage 1 F1 = a1 F0; stage 2 F2 = a2 avgpool2(F1); global pool; linear."""
    torch.manual_seed(0)
    return nn.Sequential(
        Pointwise(w0),
        Pointwise(a1 * torch.eye(C)),
        Pointwise(a2 * torch.eye(C), pool=True),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(C, 3),
    )


def _entropy_numpy(maps: np.ndarray) -> float:
    """Entropy of the normalised eigenvalues of the covariance of the C-vectors of (N, C, H, W) maps."""
    vectors = maps.transpose(0, 2, 3, 1).reshape(-1, maps.shape[1])
    eigenvalues = np.clip(np.linalg.eigvalsh(np.cov(vectors.T, bias=True)), 0, None)
    p = eigenvalues / eigenvalues.sum()
    p = p[p > 0]
    return float(-(p * np.log(p)).sum())


def test_exact_values_on_a_hand_made_network() -> None:
    g = torch.Generator().manual_seed(1)
    w0 = torch.randn(C, C, generator=g)
    x, y = torch.randn(8, C, 4, 4, generator=g), torch.arange(8) % 3
    s = lswag_plugin.score(_hand_net(w0, 2.0, 1.0), (x, y), AZ, device="cpu")
    f0 = np.einsum("oc,nchw->nohw", w0.double().numpy(), x.double().numpy())
    pooled = f0.reshape(8, C, 2, 2, 2, 2).mean(axis=(3, 5))
    e0, e1, e2 = _entropy_numpy(f0), _entropy_numpy(2.0 * f0), _entropy_numpy(2.0 * pooled)
    assert s["az_expressivity"] == pytest.approx(e1 + e2, rel=1e-6)
    assert s["az_progressivity"] == pytest.approx(min(e1 - e0, e2 - e1), abs=1e-6)
    # J_1 = 2·I: σ_1 = 2; J_2 = 2×2 mean pool (adjoint: each input gets g/4): σ_2 = 1/2.
    # s_T = ((2 − 2 − 1/2) + (2 − 1/2 − 2)) / 2 = −1/2, whatever the output signal.
    assert s["az_trainability"] == pytest.approx(-0.5, rel=1e-6)
    # Three 1×1 convolutions C→C on 4×4 maps (the last before its pool) and a C→3 linear layer.
    assert s["az_complexity"] == 3 * 2 * C * C * 16 + 2 * C * 3


def test_isometric_stages_have_the_best_trainability() -> None:
    x, y = _images(8, 4, channels=C, classes=3)
    s = lswag_plugin.score(_hand_net(torch.eye(C), 1.0, 2.0), (x, y), "az_trainability")
    assert s["az_trainability"] == pytest.approx(0.0, abs=1e-9)  # σ_1 = 1, σ_2 = 2/2 = 1


def test_feature_entropy_by_hand() -> None:
    iso = StageFeature(
        "f", (2, 1, 1), count=2, mean=torch.zeros(2), scatter=2 * torch.eye(2).double()
    )
    assert feature_entropy(iso) == pytest.approx(math.log(2))
    skew = StageFeature(
        "f", (3, 1, 1), count=4, mean=torch.zeros(3), scatter=torch.diag(torch.tensor([3.0, 1, 0]))
    )
    assert feature_entropy(skew) == pytest.approx(-(0.75 * math.log(0.75) + 0.25 * math.log(0.25)))
    flat = StageFeature("f", (3, 1, 1), count=4, mean=torch.zeros(3), scatter=torch.zeros(3, 3))
    assert feature_entropy(flat) == 0.0


def test_merged_statistics_equal_those_of_the_whole_batch() -> None:
    from lswag_plugin.engine.captures.stage_features import feature_statistics as _statistics

    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(3, 5, 2, 2, generator=g) + 1, torch.randn(2, 5, 2, 2, generator=g)
    merged = _statistics("f", a)
    merged.add(_statistics("f", b))
    whole = _statistics("f", torch.cat([a, b]))
    assert merged.count == whole.count == 20
    torch.testing.assert_close(merged.covariance(), whole.covariance())
    torch.testing.assert_close(merged.mean, whole.mean)


def test_a_disconnected_nb201_cell_ranks_lowest_never_nan() -> None:
    from lswag_plugin.spaces import get_space

    net = get_space("nb201").build("|none~0|+|none~0|none~1|+|none~0|none~1|none~2|")
    s = lswag_plugin.score(net, _images(8, 32), AZ, device="cpu")
    assert s["az_trainability"] == -math.inf
    assert all(not math.isnan(v) for v in dict(s).values())


# -- one set of shared passes ---------------------------------------------------------------------

FORWARDS: list[int] = []
BACKWARDS: list[int] = []


class Counted(nn.Module):
    """A stem conv that counts its forwards and the backward passes reaching its output."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        FORWARDS.append(1)
        out = self.conv(x)
        if out.requires_grad:
            out.register_hook(lambda grad: BACKWARDS.append(1))
        return out


class Block(nn.Module):
    def __init__(self, stride: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(8, 8, 3, stride=stride, padding=1)
        self.bn = nn.BatchNorm2d(8)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


def _counted_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        Counted(), Block(1), Block(2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10)
    )


def test_az_proxies_share_the_passes_of_lswag_and_zico() -> None:
    batch = _images(16, 8)
    net = _counted_net()
    FORWARDS.clear(), BACKWARDS.clear()
    base = lswag_plugin.score(net, batch, "lswag,zico", device="cpu")
    assert (len(FORWARDS), len(BACKWARDS)) == (2, 2)
    FORWARDS.clear(), BACKWARDS.clear()
    fused = lswag_plugin.score(net, batch, f"lswag,zico,{AZ}", device="cpu")
    # The same two minibatch forwards and loss backwards; besides, per minibatch, each block's
    # Jacobian probe runs a backward through that block alone (the first block's reaches the stem).
    assert (len(FORWARDS), len(BACKWARDS)) == (2, 2 + 2)
    assert fused.passes == ["forward+backward x2"]
    assert fused["lswag"] == base["lswag"] and fused["zico"] == base["zico"]
    alone = lswag_plugin.score(net, batch, AZ, device="cpu")
    assert {p: fused[p] for p in AZ_PROXIES} == dict(alone)


# -- aggregation ----------------------------------------------------------------------------------


def test_pool_aggregation_by_hand() -> None:
    table = {"a": [1.0, 1.0, 3.0], "b": [math.nan, 2.0, 1.0]}
    # ranks a: 1.5, 1.5, 3 (a tie shares its mean rank); b: NaN lowest → 1, 3, 2.
    expected = [
        math.log(1.5 / 3) + math.log(1 / 3),
        math.log(1.5 / 3) + math.log(3 / 3),
        math.log(3 / 3) + math.log(2 / 3),
    ]
    np.testing.assert_allclose(az_nas_pool(table, proxies=["a", "b"]), expected)


def test_reference_score_is_the_pool_score_of_the_candidate() -> None:
    rng = np.random.default_rng(0)
    table = {p: rng.integers(0, 5, 20).astype(float).tolist() for p in AZ_PROXIES}
    table["az_trainability"][3] = -math.inf
    reference = AZReference.from_table(table)
    for _ in range(10):
        candidate = {p: float(rng.integers(-1, 6)) for p in AZ_PROXIES}
        pooled = az_nas_pool({p: [*table[p], candidate[p]] for p in AZ_PROXIES})
        assert reference.score(candidate) == pytest.approx(pooled[-1])


def test_reference_round_trip(tmp_path) -> None:
    table = {p: [1.0, -math.inf, 3.0] for p in AZ_PROXIES}
    path = AZReference.from_table(table, {"space": "nb201"}).save(tmp_path / "ref.json")
    loaded = AZReference.load(path)
    assert loaded.meta == {"space": "nb201"}
    assert list(loaded.scores["az_expressivity"]) == [-math.inf, 1.0, 3.0]
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(BadData, match="not an AZ-NAS reference"):
        AZReference.load(tmp_path / "bad.json")


def test_az_nas_proxy_ranks_one_network_in_its_reference(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("LSWAG_AZ_REFERENCE", raising=False)
    batch = _images(16, 8)
    net = _counted_net()
    with pytest.raises(BadData, match="reference"):
        lswag_plugin.score(net, batch, "az_nas", device="cpu")
    table = {p: [-1e9, 0.0, 1e12] for p in AZ_PROXIES}
    path = AZReference.from_table(table).save(tmp_path / "ref.json")
    s = lswag_plugin.score(
        net, batch, "lswag,az_nas", device="cpu", options={"az_nas": {"reference": str(path)}}
    )
    assert s.passes == ["forward+backward x2"]
    members = {p: s.components[p] for p in AZ_PROXIES}
    pooled = az_nas_pool({p: [*table[p], members[p]] for p in AZ_PROXIES})
    assert s["az_nas"] == pytest.approx(pooled[-1])


def test_all_has_the_four_proxies_not_the_aggregate() -> None:
    names = resolve_names("all")
    assert set(AZ_PROXIES) <= set(names)
    assert "az_nas" not in names and "libra" not in names


def test_sample_reference_scores_random_architectures() -> None:
    from lswag_plugin.spaces import get_space

    space = get_space("nb201", channels=4, cells_per_stage=1)
    reference = sample_reference(space, 3, seed=0, device="cpu", batch_size=8, resolution=8)
    assert reference.size == 3 and reference.meta["space"] == "nb201"
    assert all(len(v) == 3 for v in reference.scores.values())


def test_bench_adds_the_pool_aggregation_of_the_scored_rows() -> None:
    from lswag_plugin.bench.run import run_bench
    from lswag_plugin.spaces import get_space

    space = get_space("nb201", channels=4, cells_per_stage=1)
    archs = [space.encode(space.sample(np.random.default_rng(s))) for s in range(4)]
    rows = [{"arch": a, "acc": float(i)} for i, a in enumerate(archs)]
    result = run_bench(
        space, rows, arch_column="arch", target="acc", proxies=AZ, show_progress=False,
        device="cpu", batch_size=8, resolution=8,
    )  # fmt: skip
    assert result.proxies == [*AZ_PROXIES, "az_nas_pool"]
    expected = az_nas_pool({p: [r[p] for r in result.rows] for p in AZ_PROXIES})
    assert [r["az_nas_pool"] for r in result.rows] == pytest.approx(list(expected))
    assert not math.isnan(result.spearman["az_nas_pool"])
