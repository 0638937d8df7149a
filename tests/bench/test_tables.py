"""Ground-truth tables: NASLib zero-cost files (NB101, NB201, NB301) read as tables."""

from __future__ import annotations

import csv
import gzip
import json

import pytest

from lswag_plugin.bench.tables import (
    NASLIB_NB201_OPS,
    nb201_from_naslib_key,
    read_naslib_table,
    read_table,
)
from lswag_plugin.errors import BadArchitecture, BadData
from lswag_plugin.spaces import get_space
from lswag_plugin.spaces.darts import DARTS_V2
from lswag_plugin.spaces.darts import to_naslib_key as darts_key

NB101_KEY = (
    "(0, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, "
    "0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 4, 3, 2, 4, 4, 1)"
)


def _write(path, data) -> None:
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            json.dump(data, f)
    else:
        path.write_text(json.dumps(data))


def test_nb101_file_nested_and_gzipped(tmp_path) -> None:
    entry = {"flops": 624.5, "params": 2.694282, "val_accuracy": 92.5, "snip": 1.5, "jacov": -32.0}
    _write(tmp_path / "zc.json.gz", {"nasbench101": {"cifar10": {NB101_KEY: entry}}})
    table = read_table(tmp_path / "zc.json.gz")
    assert table.dataset == "cifar10"
    assert table.columns == [
        "arch",
        "naslib_key",
        "val_accuracy",
        "params",
        "flops",
        "published_snip",
        "published_jacov",
    ]
    row = table.rows[0]
    space = get_space("nb101")
    arch = space.validate(row["arch"])
    assert row["arch"] == space.encode(arch) and row["naslib_key"] == NB101_KEY
    assert space.num_params(arch) == round(row["params"] * 1e6)
    assert (row["val_accuracy"], row["published_snip"], row["published_jacov"]) == (
        92.5,
        1.5,
        -32.0,
    )


def test_darts_file_unwraps_scores(tmp_path) -> None:
    key = darts_key(DARTS_V2)
    entry = {
        "idx": "7",
        "arch": key,
        "val_accuracy": 94.1,
        "params": {"score": 1.2, "time": 0.5},
        "flops": {"score": 300.0, "time": 0.4},
        "nwot": {"score": 800.5, "time": 1.0},
        "synflow": {"score": None, "time": 1.0},
    }
    _write(tmp_path / "nb301.json", {"cifar10": {key: entry}})
    table = read_table(tmp_path / "nb301.json")
    row = table.rows[0]
    assert json.loads(row["arch"]) == DARTS_V2
    assert get_space("darts").encode(DARTS_V2) == row["arch"]
    assert row["idx"] == "7" and row["params"] == 1.2 and row["flops"] == 300.0
    assert row["published_nwot"] == 800.5
    assert row["published_synflow"] != row["published_synflow"]  # null score → NaN
    assert "published_arch" not in row and "published_params" not in row
    assert table.labelled("val_accuracy")[1] == 0


def test_nb201_file_picks_a_dataset(tmp_path) -> None:
    key = "(0, 2, 3, 2, 3, 1)"
    arch = "|skip_connect~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|nor_conv_1x1~0|nor_conv_1x1~1|none~2|"
    data = {
        "cifar10": {key: {"val_accuracy": 86.0, "params": {"score": 0.615386}}},
        "cifar100": {key: {"val_accuracy": 62.0, "params": {"score": 0.621236}}},
    }
    _write(tmp_path / "nb201.json", data)
    c10 = read_table(tmp_path / "nb201.json")
    c100 = read_table(f"{tmp_path / 'nb201.json'}#cifar100")
    assert (c10.dataset, c100.dataset) == ("cifar10", "cifar100")
    assert c10.rows[0]["arch"] == c10.rows[0]["arch_str"] == arch
    assert (c10.rows[0]["val_accuracy"], c100.rows[0]["val_accuracy"]) == (86.0, 62.0)
    space = get_space("nb201")
    assert space.num_params(arch, num_classes=10) == 615_386
    assert space.num_params(arch, num_classes=100) == 621_236
    with pytest.raises(BadData, match=r"no dataset 'imagenet'; datasets are cifar10, cifar100"):
        read_table(f"{tmp_path / 'nb201.json'}#imagenet")
    assert read_naslib_table(tmp_path / "nb201.json", dataset="cifar100").rows == c100.rows


def test_bad_naslib_keys_and_files(tmp_path) -> None:
    _write(tmp_path / "bad.json", {"cifar10": {"(0, 2, 3, 2, 3, 9)": {"val_accuracy": 1.0}}})
    with pytest.raises(BadData, match="not a nb201 architecture"):
        read_table(tmp_path / "bad.json")
    with pytest.raises(BadArchitecture, match=r"6 op indices in 0\.\.4"):
        nb201_from_naslib_key("(0, 2, 3)")
    (tmp_path / "broken.json.gz").write_bytes(b"not gzip")
    with pytest.raises(BadData, match="not valid JSON"):
        read_table(tmp_path / "broken.json.gz")
    _write(tmp_path / "plain.json", {"rows": [{"arch": "a", "acc": 1}]})
    assert read_table(tmp_path / "plain.json").rows == [{"arch": "a", "acc": 1}]
    with pytest.raises(BadData, match="picks a dataset of a NASLib zero-cost file"):
        read_table(f"{tmp_path / 'plain.json'}#cifar10")
    with pytest.raises(BadData, match="not a NASLib zero-cost file"):
        read_naslib_table(tmp_path / "plain.json")
    with pytest.raises(BadData, match="does not exist"):
        read_table(tmp_path / "missing.json#cifar10")


@pytest.mark.data
@pytest.mark.parametrize(
    ("path", "space", "dataset", "rows"),
    [
        ("naslib/naslib_zc_nasbench101__22280f71.json.gz", "nb101", "cifar10", 500),
        ("naslib/naslib_zc_nasbench301__6639fd15.json.gz", "darts", "cifar10", 725),
        ("nb201/naslib_zc_nasbench201.json", "nb201", "cifar10", 724),
        ("nb201/naslib_zc_nasbench201.json#cifar100", "nb201", "cifar100", 725),
    ],
)
def test_shared_naslib_files(data_dir, path, space, dataset, rows) -> None:
    table = read_table(f"{data_dir / path}")
    assert (table.dataset, len(table.rows)) == (dataset, rows)
    table.require("arch", "val_accuracy", "params", "flops", "published_synflow", "published_snip")
    s = get_space(space)
    for row in table.rows[::50]:
        assert s.encode(s.validate(row["arch"])) == row["arch"]
    assert len({r["arch"] for r in table.rows}) <= rows
    assert table.labelled("val_accuracy")[1] == 0


@pytest.mark.data
def test_nb201_naslib_keys_agree_with_the_nb201_table(data_dir) -> None:
    """NASLib's NB201 op indices (0 skip, 1 none, 2 conv3×3, 3 conv1×1, 4 avg pool) and edge order give
    the NB201 string of every one of the 15,625 cells of nb201_accuracy.csv."""
    with open(data_dir / "nb201" / "nb201_accuracy.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 15_625
    assert all(nb201_from_naslib_key(r["naslib_op_indices"]) == r["arch_str"] for r in rows)
    assert NASLIB_NB201_OPS[:2] == ("skip_connect", "none")
