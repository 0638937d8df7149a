"""AutoFormer T/S/B spaces: choices, validation, encode/decode, mutate, crossover, build, #params."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces import available_spaces, get_space
from lswag_plugin.spaces.autoformer import CHOICES, REFERENCE_ARCHS, AutoFormer, AutoFormerNet

# Published sizes of AutoFormer-T/S/B (AutoFormer paper, Table 2), 224², 1000 classes.
PUBLISHED = {"t": 5.8e6, "s": 22.9e6, "b": 53.7e6}
# Our exact counts (no relative-position tables: 7,680 parameters per layer fewer than AutoFormer's).
EXACT = {"t": 5_768_104, "s": 22_791_592, "b": 53_584_168}


def tiny_arch() -> dict:
    return {"embed_dim": 192, "depth": 12, "mlp_ratio": [3.5] * 12, "num_heads": [3] * 12}


def two_layer_arch() -> dict:
    """Outside the space's depths (build checks structure only): keeps forward/backward tests fast."""
    return {"embed_dim": 192, "depth": 2, "mlp_ratio": [3.5, 4.0], "num_heads": [3, 4]}


def test_registered_names() -> None:
    names = available_spaces()
    for n in ("autoformer", "autoformer-t", "autoformer-s", "autoformer-b"):
        assert n in names
    assert get_space("autoformer").name == "autoformer-t"
    assert get_space("autoformer", size="b").name == "autoformer-b"
    assert get_space("autoformer-s").choices == CHOICES["s"]


@pytest.mark.parametrize("size", ["t", "s", "b"])
def test_reference_params_match_published(size: str) -> None:
    space = get_space(f"autoformer-{size}")
    n = space.num_params(REFERENCE_ARCHS[size], num_classes=1000, resolution=224)
    assert n == EXACT[size]
    assert abs(n - PUBLISHED[size]) / PUBLISHED[size] < 0.03


@pytest.mark.parametrize("size", ["t", "s", "b"])
def test_analytic_count_equals_built_model(size: str) -> None:
    space = get_space(f"autoformer-{size}")
    arch = space.sample(np.random.default_rng(3))
    for res, classes in ((224, 1000), (64, 100)):
        with torch.device("meta"):
            model = space.build(arch, num_classes=classes, resolution=res)
        built = sum(p.numel() for p in model.parameters())
        assert space.num_params(arch, num_classes=classes, resolution=res) == built


def test_reference_t_uses_ratio_outside_its_space() -> None:
    space = get_space("autoformer-t")
    with pytest.raises(BadArchitecture, match=r"mlp_ratio\[2\] = 3.0"):
        space.validate(REFERENCE_ARCHS["t"])
    for size in "sb":
        assert get_space(f"autoformer-{size}").validate(REFERENCE_ARCHS[size])


def test_qkv_width_is_heads_times_64_and_gelu_modules() -> None:
    arch = {"embed_dim": 216, "depth": 4, "mlp_ratio": [4.0] * 4, "num_heads": [3, 4] * 2}
    model = get_space("autoformer-t", resolution=64).build(arch, num_classes=7)
    assert isinstance(model, AutoFormerNet)
    assert model.blocks[0].attn.qkv.weight.shape == (3 * 3 * 64, 216)
    assert model.blocks[1].attn.qkv.weight.shape == (3 * 4 * 64, 216)
    assert model.blocks[1].attn.proj.weight.shape == (216, 4 * 64)
    assert model.blocks[0].mlp.fc1.weight.shape == (864, 216)
    assert sum(isinstance(m, nn.GELU) for m in model.modules()) == 4
    assert all(not b.attn.fused_attn for b in model.blocks)
    assert model.pos_embed.shape == (1, 17, 216)
    out = model(torch.randn(2, 3, 64, 64))
    assert out.shape == (2, 7)


def test_validate_accepts_hidden_dim_and_canonicalises() -> None:
    space = get_space("autoformer")
    row = {"hidden_dim": 240, "depth": 12, "mlp_ratio": [4] * 12, "num_heads": [np.int64(4)] * 12}
    arch = space.validate(row)
    assert arch == {"embed_dim": 240, "depth": 12, "mlp_ratio": [4.0] * 12, "num_heads": [4] * 12}
    assert type(arch["mlp_ratio"][0]) is float and type(arch["num_heads"][0]) is int
    assert space.encode(row) == space.encode(arch)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"embed_dim": 200}, "embed_dim"),
        ({"depth": 11, "mlp_ratio": [4.0] * 11, "num_heads": [3] * 11}, "depth"),
        ({"mlp_ratio": [4.0] * 11}, "mlp_ratio"),
        ({"num_heads": [3] * 11 + [5]}, r"num_heads\[11\]"),
        ({"mlp_ratio": [4.0] * 11 + ["x"]}, r"mlp_ratio\[11\]"),
        ({"depth": "12"}, "depth"),
        ({"heads": [3] * 12}, "heads"),
    ],
)
def test_validate_names_the_bad_field(change: dict, field: str) -> None:
    arch = {**tiny_arch(), **change}
    with pytest.raises(BadArchitecture, match=field):
        get_space("autoformer-t").validate(arch)


def test_validate_rejects_missing_field_and_non_dict() -> None:
    space = get_space("autoformer-t")
    arch = tiny_arch()
    del arch["num_heads"]
    with pytest.raises(BadArchitecture, match=r"missing field.*num_heads"):
        space.validate(arch)
    with pytest.raises(BadArchitecture, match="decode"):
        space.validate('{"embed_dim": 192}')
    with pytest.raises(BadArchitecture, match="given twice"):
        space.validate({**tiny_arch(), "hidden_dim": 192})


@pytest.mark.parametrize("size", ["t", "s", "b"])
def test_sample_is_valid_and_round_trips_through_json(size: str) -> None:
    space = get_space(f"autoformer-{size}")
    rng = np.random.default_rng(0)
    for _ in range(20):
        arch = space.sample(rng)
        assert space.validate(arch) == arch
        text = json.dumps(space.encode(arch))
        assert space.decode(json.loads(text)) == arch
        assert json.loads(json.dumps(arch)) == arch


def test_sample_is_seeded_and_covers_choices() -> None:
    space = get_space("autoformer-t")
    a = [space.sample(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    rng = np.random.default_rng(1)
    archs = [space.sample(rng) for _ in range(200)]
    assert {x["depth"] for x in archs} == {12, 13, 14}
    assert {x["embed_dim"] for x in archs} == {192, 216, 240}
    assert {r for x in archs for r in x["mlp_ratio"]} == {3.5, 4.0}


def test_decode_bad_json_is_typed() -> None:
    with pytest.raises(BadArchitecture, match="cannot parse"):
        get_space("autoformer").decode("{not json")


def test_mutate_keeps_parent_and_stays_valid() -> None:
    space = get_space("autoformer-s")
    rng = np.random.default_rng(0)
    parent = space.sample(rng)
    frozen = copy.deepcopy(parent)
    depths = set()
    for _ in range(100):
        child = space.mutate(parent, rng)
        assert space.validate(child) == child
        depths.add(child["depth"])
    assert parent == frozen
    assert depths == {12, 13, 14}


def test_mutate_probabilities() -> None:
    space = get_space("autoformer-t")
    rng = np.random.default_rng(0)
    arch = space.sample(rng)
    assert space.mutate(arch, rng, prob=0.0, structure_prob=0.0) == arch
    with pytest.raises(ValueError, match="prob"):
        space.mutate(arch, rng, prob=1.5)


def test_mutate_depth_adds_and_removes_layers() -> None:
    space = get_space("autoformer-t")
    base = tiny_arch()  # depth 12
    seen = {}
    for seed in range(40):
        child = space.mutate(base, np.random.default_rng(seed), prob=0.0, structure_prob=1.0)
        seen[child["depth"]] = child
    assert set(seen) == {12, 13, 14}
    deep = seen[14]
    assert deep["mlp_ratio"][:12] == [3.5] * 12 and deep["num_heads"][:12] == [3] * 12
    deep_parent = {
        "embed_dim": 192,
        "depth": 14,
        "mlp_ratio": [3.5, 4.0] * 7,
        "num_heads": [3, 4] * 7,
    }
    shallow = [
        c
        for seed in range(40)
        if (
            c := space.mutate(
                deep_parent, np.random.default_rng(seed), prob=0.0, structure_prob=1.0
            )
        )["depth"]
        == 12
    ]
    assert shallow, "depth 12 was never drawn"
    assert shallow[0]["mlp_ratio"] == deep_parent["mlp_ratio"][:12]
    assert shallow[0]["num_heads"] == deep_parent["num_heads"][:12]


def test_crossover_takes_choices_from_parents() -> None:
    space = get_space("autoformer-t")
    a = {"embed_dim": 192, "depth": 12, "mlp_ratio": [3.5] * 12, "num_heads": [3] * 12}
    b = {"embed_dim": 240, "depth": 14, "mlp_ratio": [4.0] * 14, "num_heads": [4] * 14}
    rng = np.random.default_rng(0)
    children = [space.crossover(a, b, rng) for _ in range(50)]
    for child in children:
        assert space.validate(child) == child
        assert child["embed_dim"] in (192, 240) and child["depth"] in (12, 14)
        for i in range(12, child["depth"]):  # layers only b has come from b
            assert child["mlp_ratio"][i] == 4.0 and child["num_heads"][i] == 4
    assert {c["depth"] for c in children} == {12, 14}
    assert any(3.5 in c["mlp_ratio"] and 4.0 in c["mlp_ratio"] for c in children)
    assert space.crossover(a, a, rng) == a


def test_resolution_and_size_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="size"):
        AutoFormer(size="xl")
    with pytest.raises(ValueError, match="multiple"):
        AutoFormer(resolution=100)
    with pytest.raises(ValueError, match="multiple"):
        AutoFormer().build(tiny_arch(), resolution=40)


def test_build_is_seeded_and_scores_without_touching_the_model() -> None:
    space = get_space("autoformer-t", resolution=32)
    arch = two_layer_arch()
    torch.manual_seed(0)
    m1 = space.build(arch, num_classes=8)
    torch.manual_seed(0)
    m2 = space.build(arch, num_classes=8)
    for p, q in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    before = {k: v.clone() for k, v in m1.state_dict().items()}
    x, y = torch.randn(8, 3, 32, 32), torch.arange(8)
    scores = lswag_plugin.score(m1, (x, y), "lswag,swap,params", device="cpu")
    assert scores["params"] == float(space.num_params(arch, num_classes=8, resolution=32))
    # 2 GELU layers, 5 tokens × (672 + 768) hidden units: at most one pattern per neuron.
    assert 0 < scores["swap"] <= 5 * (672 + 768)
    assert np.isfinite(scores["lswag"]) and scores["lswag"] > 0
    for k, v in m1.state_dict().items():
        assert torch.equal(v, before[k])


def test_fused_attention_flag_gives_same_outputs() -> None:
    torch.manual_seed(0)
    plain = get_space("autoformer-t", resolution=32).build(two_layer_arch())
    fused = get_space("autoformer-t", resolution=32, fused_attention=True).build(two_layer_arch())
    fused.load_state_dict(plain.state_dict())
    assert all(b.attn.fused_attn for b in fused.blocks)
    x = torch.randn(2, 3, 32, 32)
    torch.testing.assert_close(plain(x), fused(x), rtol=1e-4, atol=1e-5)


def test_table_rows_validate(data_dir) -> None:
    rows = json.loads((data_dir / "autoformer" / "autoformer_tiny_100.json").read_text())
    space = get_space("autoformer-t")
    codes = {space.encode(r["arch"]) for r in rows}
    assert len(rows) == 100 and len(codes) == 100
    counts = [space.num_params(r["arch"], num_classes=100) for r in rows]
    assert min(counts) > 4_000_000 and max(counts) < 10_000_000
