"""AZ-NAS: the block rule, exact values on hand-made networks, its own data-free pass, the aggregation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.engine import registry
from lswag_plugin.engine.captures.data_free_blocks import DATA_FREE_BLOCKS, BlockFeatures
from lswag_plugin.engine.registry import register_proxy
from lswag_plugin.engine.structure import UnitCall, select_blocks, units_of
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
def blocks_of(monkeypatch: pytest.MonkeyPatch):
    """Returns ``f(model, batch) -> BlockFeatures`` (a test proxy that keeps what the pass read)."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    kept = {}

    @register_proxy("test_blocks", needs=DATA_FREE_BLOCKS)
    def keep(ctx) -> float:
        kept["blocks"] = ctx.data_free_blocks
        return 0.0

    def run(model: nn.Module, batch) -> BlockFeatures:
        lswag_plugin.score(model, batch, "test_blocks", device="cpu", num_classes=None)
        return kept["blocks"]

    return run


def _images(n: int, size: int, channels: int = 3, classes: int = 10, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, channels, size, size, generator=g), torch.arange(n) % classes


def _described(blocks: BlockFeatures) -> list[tuple[str, int]]:
    return [(n, len(ev)) for n, ev in zip(blocks.names, blocks.eigenvalues)]


# -- the block rule ------------------------------------------------------------------------------


def test_nb201_has_its_stem_and_17_blocks(blocks_of) -> None:
    from lswag_plugin.spaces import get_space

    torch.manual_seed(0)
    found = blocks_of(get_space("nb201").build(NB201_ARCH), _images(4, 32))
    assert found.problem is None
    # The stem's output (conv + BN), then 5 cells, a reduction, 5 cells, a reduction, 5 cells.
    channels = [16] * 6 + [32] * 6 + [64] * 6
    assert _described(found) == list(
        zip(["input of cells.0", *(f"cells.{i}" for i in range(17))], channels)
    )
    assert [p.name for p in found.probes][:2] == [
        "input of cells.0 -> cells.0",
        "cells.0 -> cells.1",
    ]
    assert len(found.probes) == 17 and all(p.sigma > 0 for p in found.probes)


def test_resnet18_has_the_max_pool_as_stem_and_its_eight_blocks(blocks_of) -> None:
    import timm

    torch.manual_seed(0)
    found = blocks_of(timm.create_model("resnet18", num_classes=10), _images(4, 64))
    assert found.names == ["input of layer1.0"] + [
        f"layer{i}.{j}" for i in range(1, 5) for j in range(2)
    ]
    # Where the resolution halves (layer2.0 ...), u is pixel-unshuffled: every probe is read.
    assert not any(math.isnan(p.sigma) for p in found.probes)


def test_vit_blocks_are_the_transformer_blocks_with_tokens_as_positions(blocks_of) -> None:
    import timm

    torch.manual_seed(0)
    net = timm.create_model("vit_tiny_patch16_224", img_size=32, patch_size=8, num_classes=10)
    found = blocks_of(net, _images(4, 32))
    assert found.names == ["input of blocks.0", *(f"blocks.{i}" for i in range(12))]
    assert all(len(ev) == 192 for ev in found.eigenvalues)
    assert not any(math.isnan(p.sigma) for p in found.probes)


def test_outputs_changed_in_place_are_skipped(blocks_of) -> None:
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
    # No composite unit: the stem is the first map, the blocks the last map of each resolution.
    assert _described(blocks_of(net, _images(4, 8))) == [("1", 4), ("3", 4)]


def test_units_expand_plain_containers() -> None:
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ModuleList([nn.ReLU(), nn.Conv2d(4, 4, 3)]))
    assert [name for name, _ in units_of(nn.Sequential(net))] == ["0.0", "0.1.0", "0.1.1"]


def _call(name, shape, composite=True, params=True, **flags) -> UnitCall:
    return UnitCall(name, composite, params, shape, shape, **flags)


def test_select_blocks_token_rule() -> None:
    calls = [_call("embed", (2, 9, 8))] + [_call(f"b{i}", (2, 10, 8)) for i in range(13)]
    found = select_blocks(calls)
    assert found.kind == "tokens" and found.stem == (1, "input")
    assert [calls[i].name for i in found.blocks] == [f"b{i}" for i in range(13)]


def test_select_blocks_cnn_rule() -> None:
    calls = [
        _call("conv", (2, 8, 8, 8), composite=False, reads_model_input=True),
        _call("bn", (2, 8, 8, 8), composite=False),
        _call("block1", (2, 8, 8, 8)),
        _call("block2", (2, 8, 8, 8), output_changed=True),  # overwritten later: skipped
        _call("down", (2, 16, 4, 4)),
        _call("gap", (2, 16, 1, 1), params=False),
        _call("head", (2, 10)),
    ]
    found = select_blocks(calls)
    assert found.stem == (2, "input")
    assert [calls[i].name for i in found.blocks] == ["block1", "down"]
    # The first block is the stem itself (it reads the network's input): its output is the stem.
    calls[0] = _call("stem", (2, 8, 8, 8), reads_model_input=True)
    found = select_blocks(calls)
    assert found.stem == (0, "output")
    assert [calls[i].name for i in found.blocks] == ["block1", "down"]


# -- exact values on a hand-made network (the data-free pass) --------------------------------------

C = 4


class Scale(nn.Module):
    """A parameter-free block (composite: it holds an identity): ``F = a · x``, optionally pooled 2×2.

    Without Conv/Linear weights nothing is re-initialised, so the pass's generator draws the Gaussian
    input first, then the Rademacher probes from the last block to the first.
    """

    def __init__(self, a: float | torch.Tensor, pool: bool = False) -> None:
        super().__init__()
        self.register_buffer("a", torch.as_tensor(a, dtype=torch.float32).reshape(1, -1, 1, 1))
        self.keep = nn.Identity()
        self.pool = nn.AvgPool2d(2) if pool else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.keep(x) * self.a)


def _hand_net(stem: torch.Tensor, a1: float, a2: float) -> nn.Module:
    """stem F0 = D x (per-channel scales); F1 = a1 F0; F2 = a2 avgpool2(F1); global pool."""
    return nn.Sequential(
        Scale(stem), Scale(a1), Scale(a2, pool=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )


def _entropy_numpy(maps: np.ndarray) -> float:
    """−Σ p log(p + 1e-8) of the covariance spectrum of the C-vectors of (N, C, H, W) maps."""
    vectors = maps.transpose(0, 2, 3, 1).reshape(-1, maps.shape[1])
    eigenvalues = np.clip(np.linalg.eigvalsh(np.cov(vectors.T, bias=True)), 0, None)
    p = eigenvalues / eigenvalues.sum()
    return float(-(p * np.log(p + 1e-8)).sum())


def _sigma_numpy(u: np.ndarray, v: np.ndarray) -> float:
    """σ_max of uᵀv / P over the positions of (N, C, H, W) maps."""
    uu = u.transpose(0, 2, 3, 1).reshape(-1, u.shape[1])
    vv = v.transpose(0, 2, 3, 1).reshape(-1, v.shape[1])
    return float(np.linalg.norm(uu.T @ vv / uu.shape[0], ord=2))


def test_exact_values_on_a_hand_made_network() -> None:
    d = torch.tensor([1.0, 2.0, 3.0, 0.5])
    batch = _images(8, 4, channels=C, classes=C)  # only its shape matters: the input is drawn
    s = lswag_plugin.score(_hand_net(d, 2.0, 3.0), batch, AZ, device="cpu", seed=5)
    # The pass's own draws, replayed: the input, then v₂ (the last block's), then v₁.
    g = torch.Generator().manual_seed(5)
    x = torch.randn(8, C, 4, 4, generator=g).double().numpy()
    v2 = (torch.randint(0, 2, (8, C, 2, 2), generator=g) * 2 - 1).double().numpy()
    v1 = (torch.randint(0, 2, (8, C, 4, 4), generator=g) * 2 - 1).double().numpy()
    f0 = x * d.double().numpy().reshape(1, C, 1, 1)
    f1 = 2.0 * f0
    f2 = 3.0 * f1.reshape(8, C, 2, 2, 2, 2).mean(axis=(3, 5))
    e0, e1, e2 = _entropy_numpy(f0), _entropy_numpy(f1), _entropy_numpy(f2)
    assert s["az_expressivity"] == pytest.approx(e0 + e1 + e2, rel=1e-6)
    assert s["az_progressivity"] == pytest.approx(min(e1 - e0, e2 - e1), abs=1e-6)
    # Block 1: u = 2 v₁. Block 2: each input position gets 3 v₂ / 4 (the pool's adjoint), and u is
    # pixel-unshuffled (stride 2) to v₂'s positions: channel 4c + 2i + j holds offset (i, j) of c.
    u2 = np.repeat(np.repeat(3.0 * v2 / 4, 2, axis=2), 2, axis=3)
    u2 = u2.reshape(8, C, 2, 2, 2, 2).transpose(0, 1, 3, 5, 2, 4).reshape(8, 4 * C, 2, 2)
    sigmas = [_sigma_numpy(2.0 * v1, v1), _sigma_numpy(u2, v2)]
    expected = np.mean([2 - sg - 1 / sg for sg in sigmas])
    assert s["az_trainability"] == pytest.approx(expected, rel=1e-6)
    assert s["az_complexity"] == 0.0  # no Conv/Linear: no FLOPs counted


def test_with_one_channel_the_probe_reads_the_block_gain() -> None:
    # C = 1: vᵀv / P = 1 for any Rademacher v, so σ₁ = |a₁| and the pool's σ₂ = a₂ · ½.
    batch = _images(8, 4, channels=1, classes=1)
    s = lswag_plugin.score(_hand_net(torch.ones(1), -1.0, 2.0), batch, "az_trainability")
    assert s["az_trainability"] == pytest.approx(0.0, abs=1e-9)  # σ₁ = |−1|, σ₂ = 2/2: both 1
    s = lswag_plugin.score(_hand_net(torch.ones(1), 0.5, 4.0), batch, "az_trainability")
    assert s["az_trainability"] == pytest.approx(-0.5, rel=1e-9)  # (2 − ½ − 2) and (2 − 2 − ½)
    s = lswag_plugin.score(_hand_net(torch.ones(1), 1.0, 2.0), batch, "az_trainability")
    assert s["az_trainability"] == -math.inf  # block 1 is an identity: u == v


def test_feature_entropy_by_hand() -> None:
    assert feature_entropy(torch.tensor([1.0, 1.0])) == pytest.approx(math.log(2), abs=1e-7)
    skew = torch.tensor([0.0, 1.0, 3.0])
    expected = -(0.75 * math.log(0.75 + 1e-8) + 0.25 * math.log(0.25 + 1e-8))
    assert feature_entropy(skew) == pytest.approx(expected)
    assert feature_entropy(torch.zeros(3)) == 0.0


def test_disconnected_and_identity_nb201_cells_rank_lowest_never_nan() -> None:
    from lswag_plugin.spaces import get_space

    space = get_space("nb201")
    for cell in (
        "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",  # the output ignores the input
        "|skip_connect~0|+|none~0|none~1|+|none~0|none~1|skip_connect~2|",  # an identity cell
    ):
        s = lswag_plugin.score(space.build(cell), _images(8, 32), AZ, device="cpu")
        assert s["az_trainability"] == -math.inf
        assert all(not math.isnan(v) for v in dict(s).values())


# -- its own pass, after the shared ones ----------------------------------------------------------

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


def test_the_data_free_pass_is_planned_once_and_changes_no_other_proxy() -> None:
    batch = _images(16, 8)
    net = _counted_net()
    before = [p.detach().clone() for p in net.parameters()]
    FORWARDS.clear(), BACKWARDS.clear()
    base = lswag_plugin.score(net, batch, "lswag,zico,synflow", device="cpu")
    base_calls = (len(FORWARDS), len(BACKWARDS))
    FORWARDS.clear(), BACKWARDS.clear()
    fused = lswag_plugin.score(net, batch, f"lswag,zico,synflow,{AZ}", device="cpu")
    # One more forward (the data-free batch) and the probes of its two blocks (the first reaches
    # the stem), whatever the number of AZ proxies: one pass for the four.
    assert (len(FORWARDS), len(BACKWARDS)) == (base_calls[0] + 1, base_calls[1] + 1)
    assert fused.passes == [
        "forward+backward x2",
        "data-free forward + block probes (Gaussian input, Kaiming init)",
        "special:synflow",
    ]
    assert {p: fused[p] for p in ("lswag", "zico", "synflow")} == dict(base)
    alone = lswag_plugin.score(net, batch, AZ, device="cpu")
    assert {p: fused[p] for p in AZ_PROXIES} == dict(alone)
    assert alone.passes == ["data-free forward + block probes (Gaussian input, Kaiming init)"]
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))  # never the caller's


def test_the_data_free_pass_reads_no_image() -> None:
    net = _counted_net()
    a = lswag_plugin.score(net, _images(16, 8, seed=0), AZ, device="cpu")
    b = lswag_plugin.score(net, _images(16, 8, seed=1), AZ, device="cpu")
    assert dict(a) == dict(b)


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
    assert s.passes[0] == "forward+backward x2" and len(s.passes) == 2
    members = {p: s.components[p] for p in AZ_PROXIES}
    pooled = az_nas_pool({p: [*table[p], members[p]] for p in AZ_PROXIES})
    assert s["az_nas"] == pytest.approx(pooled[-1])
    # A reference scored with an earlier definition of the proxies is refused, naming the fix.
    stale = AZReference.from_table(table, {"versions": {p: "1" for p in AZ_PROXIES}})
    stale.save(tmp_path / "stale.json")
    with pytest.raises(BadData, match=r"other definitions.*sample_reference"):
        lswag_plugin.score(
            net, batch, "az_nas", options={"az_nas": {"reference": str(tmp_path / "stale.json")}}
        )


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
