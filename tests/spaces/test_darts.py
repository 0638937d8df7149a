"""DARTS / NAS-Bench-301: presets, validation, NASLib keys, sampling/mutation/crossover, network, #params."""

from __future__ import annotations

import ast
import copy
import gzip
import itertools
import json

import numpy as np
import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.errors import BadArchitecture
from lswag_plugin.spaces import available_spaces, get_space
from lswag_plugin.spaces import darts as darts_module
from lswag_plugin.spaces.darts import (
    DARTS_V2,
    OPS,
    DartsNetwork,
    from_naslib_key,
    to_naslib_key,
)


def naslib_rows(data_dir) -> dict:
    path = data_dir / "naslib" / "naslib_zc_nasbench301__6639fd15.json.gz"
    with gzip.open(path, "rt") as f:
        return json.load(f)["cifar10"]


def test_registered_names_and_presets() -> None:
    assert {"darts", "darts-eval"} <= set(available_spaces())
    nb301 = get_space("darts")
    assert (nb301.name, nb301.channels, nb301.cells, nb301.style) == ("darts", 32, 8, "naslib")
    for space in (get_space("darts", preset="darts-eval"), get_space("darts-eval")):
        assert (space.name, space.channels, space.cells, space.style) == (
            "darts-eval",
            36,
            20,
            "darts",
        )
    custom = get_space("darts", channels=16, cells=5, style="darts")
    assert (custom.channels, custom.cells, custom.style) == (16, 5, "darts")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"channels": 0}, "channels must be an integer >= 1"),
        ({"cells": 2}, "cells must be an integer >= 3"),
        ({"cells": 8.0}, "cells must be an integer"),
        ({"style": "nasbench"}, "style must be one of naslib, darts"),
        ({"preset": "darts-imagenet"}, "unknown DARTS preset"),
    ],
)
def test_bad_constructor_arguments(kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        get_space("darts", **kwargs)


def test_darts_v2_matches_the_darts_paper_count() -> None:
    # DARTS (2nd order) on CIFAR-10, 36 channels, 20 cells: "param size = 3.349342MB" in DARTS' logs
    # (auxiliary head excluded, as DARTS counts), 3.3 M in the paper.
    assert get_space("darts-eval").num_params(DARTS_V2) == 3_349_342


def test_styles_differ_by_the_affine_parameters_of_cell_op_batch_norms() -> None:
    with torch.device("meta"):
        net = get_space("darts").build(DARTS_V2)
    extra = 0
    for cell in net.cells:
        for edge in cell.edges:
            if isinstance(edge, nn.Sequential) and isinstance(edge[0], nn.MaxPool2d | nn.AvgPool2d):
                assert not edge[1].affine  # NASLib's BN after pooling: no parameters either way
                continue
            extra += sum(
                2 * m.num_features
                for m in edge.modules()
                if isinstance(m, nn.BatchNorm2d) and not m.affine
            )
    naslib = get_space("darts").num_params(DARTS_V2)
    darts = get_space("darts", style="darts").num_params(DARTS_V2)
    assert extra > 0 and darts - naslib == extra


def _bad(kind: str, k: int, pair) -> dict:
    arch = copy.deepcopy(DARTS_V2)
    arch[kind][k] = pair
    return arch


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (_bad("normal", 0, ["sep_conv_3x3", 2]), "normal node 2 reads node 2"),
        (_bad("reduce", 5, ["skip_connect", 4]), "reduce node 4 reads node 4"),
        (_bad("normal", 7, ["skip_connect", 6]), "normal node 5 reads node 6"),
        (_bad("normal", 1, ["sep_conv_3x3", -1]), "normal node 2 reads node -1"),
        (_bad("normal", 3, ["conv_7x1_1x7", 1]), "unknown op 'conv_7x1_1x7'"),
        (_bad("normal", 3, ["none", 1]), "unknown op 'none'"),
        (_bad("normal", 1, ["sep_conv_3x3", 0]), "normal node 2 reads node 0 twice"),
        (_bad("normal", 1, ["sep_conv_3x3", "1"]), "input must be an integer"),
        (_bad("normal", 1, ["sep_conv_3x3"]), r"pair 1 must be \[op, input\]"),
        ({"normal": DARTS_V2["normal"][:6], "reduce": DARTS_V2["reduce"]}, "has 6 pairs"),
        ({"normal": DARTS_V2["normal"] * 2, "reduce": DARTS_V2["reduce"]}, "has 16 pairs"),
        ({"normal": DARTS_V2["normal"]}, "an architecture is a dict"),
        ("{oops", "cannot parse"),
    ],
)
def test_bad_architectures_name_the_problem(bad, message) -> None:
    with pytest.raises(BadArchitecture, match=message):
        get_space("darts").validate(bad)


@pytest.mark.parametrize(
    ("key", "message"),
    [
        (str([[(0, 7), (1, 3)] * 4, [(0, 0), (1, 1)] * 4]), "unknown NASLib op index 7"),
        (str([[(0, 3), (1, 3)] * 4]), "two lists"),
        (str([[(0, 3), (1, 3)] * 3, [(0, 0), (1, 1)] * 4]), "normal cell has 6 pairs"),
        (str([[(0, 3), (2, 3)] * 4, [(0, 0), (1, 1)] * 4]), "normal node 2 reads node 2"),
        ("[[(0, 3)", "cannot parse"),
    ],
)
def test_bad_naslib_keys(key: str, message: str) -> None:
    with pytest.raises(BadArchitecture, match=message):
        from_naslib_key(key)


def test_validate_accepts_json_and_tuples() -> None:
    space = get_space("darts")
    as_tuples = {k: [tuple(p) for p in v] for k, v in DARTS_V2.items()}
    assert space.validate(as_tuples) == DARTS_V2
    assert space.validate(json.dumps(DARTS_V2)) == DARTS_V2
    assert space.encode(as_tuples) == space.encode(DARTS_V2)


def test_sample_validate_encode_decode_round_trip() -> None:
    space = get_space("darts")
    rng = np.random.default_rng(0)
    ops: set[str] = set()
    for _ in range(100):
        arch = space.sample(rng)
        assert space.validate(arch) == arch
        assert space.decode(space.encode(arch)) == arch
        assert from_naslib_key(to_naslib_key(arch)) == arch
        ops.update(op for kind in arch.values() for op, _ in kind)
    assert ops == set(OPS)


def test_mutate_and_crossover_stay_valid() -> None:
    space = get_space("darts")
    rng = np.random.default_rng(1)
    a, b = space.sample(rng), space.sample(rng)
    for prob in (0.0, 0.2, 1.0):
        for _ in range(20):
            child = space.mutate(a, rng, prob=prob)
            assert child != a and space.validate(child) == child
    for _ in range(20):
        mixed = space.crossover(a, b, rng)
        assert space.validate(mixed) == mixed
        for kind in ("normal", "reduce"):
            for node in range(4):
                pairs = mixed[kind][2 * node : 2 * node + 2]
                assert pairs in (a[kind][2 * node : 2 * node + 2], b[kind][2 * node : 2 * node + 2])


def test_forward_no_auxiliary_head_no_inplace_relu() -> None:
    torch.manual_seed(0)
    net = get_space("darts").build(DARTS_V2, num_classes=7)
    assert isinstance(net, DartsNetwork) and len(net.cells) == 8
    assert [i for i, c in enumerate(net.cells) if c.reduction] == [2, 5]
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert net(torch.randn(1, 3, 30, 30)).shape == (1, 7)  # odd sizes at the reductions
    assert not any("aux" in name for name, _ in net.named_modules())
    relus = [m for m in net.modules() if isinstance(m, nn.ReLU)]
    assert relus and not any(m.inplace for m in relus)
    small_eval = get_space("darts-eval", channels=8).build(DARTS_V2)
    assert [i for i, c in enumerate(small_eval.cells) if c.reduction] == [6, 13]
    assert small_eval(torch.randn(2, 3, 16, 16)).shape == (2, 10)


def test_score_runs() -> None:
    space = get_space("darts", channels=8, cells=5)
    torch.manual_seed(0)
    model = space.build(DARTS_V2, num_classes=10)
    scores = lswag_plugin.score(
        model, None, "lswag,nwot,params", device="cpu", batch_size=8, resolution=32
    )
    assert scores["params"] == sum(p.numel() for p in model.parameters())
    assert np.isfinite(scores["lswag"]) and scores["lswag"] > 0
    assert np.isfinite(scores["nwot"])


@pytest.mark.data
def test_params_match_naslib_for_all_725_cells(data_dir) -> None:
    """All 725 NASLib NB301 cells: our ``darts`` builder's count equals ``params`` (millions, 6 decimals).

    Match rate 725 / 725 (no misses to explain). It takes NASLib's ops (non-affine BN in the cell ops,
    as NASLib's NasBench301SearchSpace builds them); DARTS' affine ops would miss every row by
    3,200 to 15,488 parameters. Every key also comes back from :func:`to_naslib_key` as it was written.
    """
    space = get_space("darts")
    rows = naslib_rows(data_dir)
    matches = keys = 0
    for key, entry in rows.items():
        arch = from_naslib_key(key)
        keys += to_naslib_key(arch) == key
        matches += space.num_params(arch) == round(entry["params"]["score"] * 1e6)
    assert (matches, keys, len(rows)) == (725, 725, 725)


def _op_cost(op: str, channels: int, stride: int) -> int:
    with torch.device("meta"):
        module = darts_module._op(op, channels, stride, "naslib")
    return sum(p.numel() for p in module.parameters())


@pytest.mark.data
def test_naslib_op_order_is_proven_by_params(data_dir) -> None:
    """Of all 5,040 orders of the 7 ops, only NASLib's (and the same with the two parameter-free pools
    swapped) fits the ``params`` column: the count is additive over the cells' edges, so each order's
    count is the builder's count plus the per-edge differences. Max vs avg pool cannot be told apart
    by parameters; that pair rests on NASLib's conversions.py.
    """
    space = get_space("darts")
    rows = list(naslib_rows(data_dir).items())
    # Edge classes: normal edges (2 cells at 32, 64 and 128 channels), reduction edges at stride 1 and
    # stride 2 (1 cell at 64 and 128 channels).
    cost = np.array(
        [
            [2 * sum(_op_cost(op, c, 1) for c in (32, 64, 128)) for op in OPS],
            [sum(_op_cost(op, c, 1) for c in (64, 128)) for op in OPS],
            [sum(_op_cost(op, c, 2) for c in (64, 128)) for op in OPS],
        ]
    )
    counts = np.zeros((len(rows), 3, len(OPS)), dtype=np.int64)
    published = np.array([round(e["params"]["score"] * 1e6) for _, e in rows])
    for r, (key, _) in enumerate(rows):
        normal, reduce = ast.literal_eval(key)
        for _, idx in normal:
            counts[r, 0, idx] += 1
        for src, idx in reduce:
            counts[r, 1 if src >= 2 else 2, idx] += 1
    edge_params = np.einsum("rki,ki->r", counts, cost)
    base = space.num_params(from_naslib_key(rows[0][0])) - edge_params[0]
    for r in (1, 2, 3):
        assert base + edge_params[r] == space.num_params(from_naslib_key(rows[r][0]))
    perms = np.array(list(itertools.permutations(range(len(OPS)))))
    per_perm = base + np.einsum("rki,kpi->pr", counts, cost[:, perms])
    matches = (per_perm == published).sum(axis=1)
    full = {tuple(OPS[i] for i in perms[p]) for p in np.flatnonzero(matches == len(rows))}
    swapped = ("avg_pool_3x3", "max_pool_3x3", *OPS[2:])
    assert full == {OPS, swapped}
    assert np.sort(matches)[-3] < len(rows) // 2
