"""PiT (Auto-Prox space on timm's PoolingVisionTransformer): choices, validation, timm presets, build."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import timm
import torch
from timm.layers import Attention
from timm.models.pit import PoolingVisionTransformer
from torch import nn

import lswag_plugin
from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces import available_spaces, get_space
from lswag_plugin.spaces.pit import CHOICES, REFERENCE_ARCHS, build_pit

TINY = {"base_dim": 16, "mlp_ratio": 2, "depth": [1, 4, 2], "num_heads": [2, 2, 4]}


def _timm_params(name: str) -> int:
    with torch.device("meta"):
        model = timm.create_model(name, num_classes=1000)
    return sum(p.numel() for p in model.parameters())


def test_registered_and_defaults() -> None:
    assert "pit" in available_spaces()
    space = get_space("pit")
    assert (space.name, space.default_resolution, space.patch_size, space.stride) == (
        "pit",
        224,
        16,
        8,
    )
    with pytest.raises(ValueError, match="resolution must be at least the patch size 16"):
        get_space("pit", resolution=8)


def test_space_has_4320_architectures() -> None:
    triples = CHOICES.head_triples()
    assert len(triples) == 10 and all(list(t) == sorted(t) for t in triples)
    depths = np.prod([len(d) for d in CHOICES.depth])
    assert len(CHOICES.base_dim) * len(CHOICES.mlp_ratio) * depths * len(triples) == 4320


def test_pit_ti_is_in_the_space_and_matches_timm_to_the_parameter() -> None:
    space = get_space("pit")
    assert space.validate(REFERENCE_ARCHS["pit_ti"]) == REFERENCE_ARCHS["pit_ti"]
    assert space.num_params(REFERENCE_ARCHS["pit_ti"], num_classes=1000) == 4_847_272
    assert _timm_params("pit_ti_224") == 4_847_272


@pytest.mark.parametrize(
    ("name", "message", "count"),
    [
        ("pit_xs", "base_dim = 48 is not a choice", 10_618_888),
        ("pit_s", "base_dim = 48 is not a choice", 23_461_912),
    ],
)
def test_pit_xs_and_s_are_outside_the_space_but_build_exactly(name, message, count) -> None:
    # Outside Auto-Prox's choices (base_dim 48; pit_s also heads 3, 6, 12): validate rejects them, the
    # same builder builds them with explicit args and matches timm to the parameter.
    space = get_space("pit")
    with pytest.raises(BadArchitecture, match=message):
        space.validate(REFERENCE_ARCHS[name])
    assert space.num_params(REFERENCE_ARCHS[name], num_classes=1000) == count
    assert _timm_params(f"{name}_224") == count


def test_pit_b_with_its_own_patch_and_stride() -> None:
    arch = {"base_dim": 64, "mlp_ratio": 4, "depth": [3, 6, 4], "num_heads": [4, 8, 16]}
    space = get_space("pit", patch_size=14, stride=7)
    assert space.num_params(arch, num_classes=1000) == _timm_params("pit_b_224")


def _with(**changes) -> dict:
    arch = copy.deepcopy(TINY)
    arch.update(changes)
    return arch


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_with(base_dim=20), "base_dim = 20 is not a choice"),
        (_with(mlp_ratio=3), "mlp_ratio = 3 is not a choice"),
        (_with(depth=[4, 4, 2]), r"depth\[0\] = 4 is not a choice of this space; choices: 1, 2, 3"),
        (_with(depth=[1, 4, 8]), r"depth\[2\] = 8 is not a choice"),
        (_with(num_heads=[2, 3, 4]), r"num_heads\[1\] = 3 is not a choice"),
        (_with(num_heads=[4, 2, 8]), "decreases across stages"),
        (_with(depth=[1, 4]), "depth has 2 value"),
        (_with(base_dim=0), "base_dim must be a positive integer"),
        (_with(mlp_ratio=-1), "mlp_ratio must be a positive number"),
        ({"base_dim": 16, "mlp_ratio": 2, "depth": [1, 4, 2]}, r"missing: \['num_heads'\]"),
        ({**TINY, "embed_dim": 3}, r"unknown: \['embed_dim'\]"),
        ("{bad", "cannot parse"),
    ],
)
def test_bad_architectures_name_the_problem(bad, message) -> None:
    with pytest.raises(BadArchitecture, match=message):
        get_space("pit").validate(bad)


def test_sample_validate_encode_decode_round_trip() -> None:
    space = get_space("pit", resolution=32)
    rng = np.random.default_rng(0)
    heads: set[tuple[int, ...]] = set()
    for _ in range(200):
        arch = space.sample(rng)
        assert space.validate(arch) == arch
        assert space.decode(space.encode(arch)) == arch
        heads.add(tuple(arch["num_heads"]))
    assert heads == set(CHOICES.head_triples())


def test_mutate_and_crossover_stay_in_the_space() -> None:
    space = get_space("pit", resolution=32)
    rng = np.random.default_rng(1)
    a, b = space.sample(rng), space.sample(rng)
    for _ in range(40):
        child = space.mutate(a, rng, prob=0.3)
        assert child != a and space.validate(child) == child
        mixed = space.crossover(a, b, rng)
        assert space.validate(mixed) == mixed
        assert mixed["base_dim"] in (a["base_dim"], b["base_dim"])
    with pytest.raises(ValueError, match="prob"):
        space.mutate(a, rng, prob=0.0)


def test_build_is_timm_class_with_explicit_attention_and_gelu_modules() -> None:
    torch.manual_seed(0)
    model = get_space("pit", resolution=32).build(TINY, num_classes=7)
    assert isinstance(model, PoolingVisionTransformer)
    attns = [m for m in model.modules() if isinstance(m, Attention)]
    assert len(attns) == 7 and not any(a.fused_attn for a in attns)
    assert sum(isinstance(m, nn.GELU) for m in model.modules()) == 7
    assert [t.blocks[0].attn.num_heads for t in model.transformers] == [2, 2, 4]
    assert model.transformers[2].blocks[0].mlp.fc1.weight.shape == (2 * 64, 64)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    fused = build_pit(TINY, num_classes=7, resolution=32, fused_attention=True)
    assert all(m.fused_attn for m in fused.modules() if isinstance(m, Attention))


def test_num_params_depends_on_resolution() -> None:
    space = get_space("pit")
    at_224 = space.num_params(TINY, num_classes=10)
    at_32 = space.num_params(TINY, num_classes=10, resolution=32)
    # only the position embedding changes: 32 channels × (27² − 3²) positions
    assert at_224 - at_32 == 32 * (27 * 27 - 3 * 3)
    with torch.device("meta"):
        model = space.build(TINY, num_classes=10, resolution=32)
    assert sum(p.numel() for p in model.parameters()) == at_32


def test_score_runs() -> None:
    space = get_space("pit", resolution=32)
    torch.manual_seed(0)
    model = space.build(TINY, num_classes=10)
    scores = lswag_plugin.score(
        model, None, "lswag,nwot,params", device="cpu", batch_size=8, resolution=32
    )
    assert scores["params"] == sum(p.numel() for p in model.parameters())
    assert np.isfinite(scores["lswag"]) and scores["lswag"] > 0
    assert np.isfinite(scores["nwot"])


def test_a_resolution_below_the_patch_size_is_one_line_and_exit_2(capsys) -> None:
    from lswag_plugin.cli import main

    args = [
        "search",
        "--space",
        "pit",
        "--strategy",
        "random",
        "--proxy",
        "params",
        "--budget",
        "2",
    ]
    assert main([*args, "--resolution", "8", "--batch-size", "2"]) == 2
    assert "resolution must be at least the patch size 16, got 8" in capsys.readouterr().err
