"""Builders: each table from sources in the upstream formats, checked value by value and byte by byte."""

from __future__ import annotations

import csv
import json
import pickle
import re

import numpy as np
import pytest
import torch

from lswag_plugin.data.build import (
    NB201_COLUMNS,
    atomic_writer,
    build_autoformer,
    build_nb201,
    group_runs,
    naslib_op_indices,
    read_ctpe,
)
from lswag_plugin.errors import BadData

NUMBER = re.compile(r"^-?\d+\.\d+$")


def write_sources(tmp_path, files):
    paths = {}
    for key, data in files.items():
        paths[key] = tmp_path / key
        paths[key].write_bytes(data)
    return paths


def test_nb201_from_synthetic_sources(synthetic_files, tmp_path):
    syn = synthetic_files
    out = tmp_path / "t" / "nb201_accuracy.csv"
    build_nb201(write_sources(tmp_path, syn.files), out)
    raw = out.read_bytes()
    assert raw.count(b"\r\n") == len(syn.cells) + 1  # CRLF rows, like the shared file
    rows = list(csv.reader(out.open(newline="")))
    assert tuple(rows[0]) == NB201_COLUMNS
    for i, row in enumerate(rows[1:]):
        assert row[0] == str(i) and row[1] == syn.cells[i]
        assert row[2] == naslib_op_indices(syn.cells[i])
        expected = [
            syn.params10[i],
            syn.params100[i],
            syn.valid[i],
            syn.test[i],
            syn.c100[i],
        ]
        assert row[3:] == [str(round(v, 6)) for v in expected]
    assert sorted(p.name for p in out.parent.iterdir()) == ["nb201_accuracy.csv"]


def test_naslib_op_indices_follow_naslib_edge_order():
    # edges (1,2),(1,3),(1,4),(2,3),(2,4),(3,4); ops 0=skip, 1=none, 2=conv3x3, 3=conv1x1, 4=avgpool
    cell = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"
    assert naslib_op_indices(cell) == "(2, 2, 0, 2, 2, 2)"
    cell = "|none~0|+|skip_connect~0|avg_pool_3x3~1|+|nor_conv_1x1~0|none~1|skip_connect~2|"
    assert naslib_op_indices(cell) == "(1, 0, 3, 4, 1, 0)"
    for bad in ("", "|conv~0|+|none~0|none~1|+|none~0|none~1|none~2|", "|none~0|"):
        with pytest.raises(BadData, match="NB201"):
            naslib_op_indices(bad)


def test_group_runs_and_ctpe_means(kit, tmp_path):
    rng = np.random.default_rng(0)
    acc, params = np.array([90.1, 80.2, 70.3]), np.array([0.5, 0.5, 0.9])
    runs = kit.ctpe_runs(acc, params, np.array([3, 2, 3]), rng)
    assert group_runs(runs["runtime"], runs["size_in_mb"]).tolist() == [0, 0, 0, 1, 1, 2, 2, 2]
    path = tmp_path / "m.pkl"
    path.write_bytes(kit.ctpe_pickle({"cifar10": runs}))
    got_acc, got_params = read_ctpe(path)["cifar10"]
    np.testing.assert_allclose(got_acc, acc, atol=1e-12)
    assert got_params.tolist() == params.tolist()


def test_ctpe_pickle_admits_arrays_only(tmp_path):
    path = tmp_path / "m.pkl"
    path.write_bytes(pickle.dumps({"cifar10": {"loss": re.compile("x")}}))
    with pytest.raises(BadData, match="not an array type"):
        read_ctpe(path)


def test_sources_that_disagree_are_refused(kit, synthetic_files, tmp_path):
    syn = synthetic_files
    files = dict(syn.files)
    files["bayeswatch"] = kit.bayeswatch_pickle(syn.cells[::-1], syn.test)
    with pytest.raises(BadData, match="row 0 is"):
        build_nb201(write_sources(tmp_path, files), tmp_path / "out.csv")
    files = dict(syn.files)
    files["landscapes"] = kit.landscapes_csv(syn.cells, [v + 1 for v in syn.valid])
    with pytest.raises(BadData, match="grouped out of index order"):
        build_nb201(write_sources(tmp_path, files), tmp_path / "out.csv")
    assert not (tmp_path / "out.csv").exists()


def test_autoformer_json_is_indent0_dump(kit, synthetic_files, tmp_path):
    out = tmp_path / "a.json"
    build_autoformer(write_sources(tmp_path, synthetic_files.files), out)
    assert out.read_text() == json.dumps(synthetic_files.autoformer, indent=0)
    (tmp_path / "autoformer").write_bytes(kit.pth_bytes({"w": torch.zeros(2)}))
    with pytest.raises(BadData, match="plain lists and dicts"):
        build_autoformer({"autoformer": tmp_path / "autoformer"}, tmp_path / "b.json")


def test_atomic_writer_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "t.csv"
    target.write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_writer(target) as f:
        f.write("half a ta")
        raise KeyboardInterrupt
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["t.csv"]


# --- against the shared ground truth --------------------------------------------------------


def shared_rows(data_dir):
    with (data_dir / "nb201" / "nb201_accuracy.csv").open(newline="") as f:
        return list(csv.reader(f))


@pytest.mark.data
def test_synthetic_build_has_the_shared_schema(data_dir, synthetic_files, tmp_path):
    """Same columns in the same order, same cell formats (int, NB201 string, NASLib key, 6-dp numbers)."""
    out = tmp_path / "nb201_accuracy.csv"
    build_nb201(write_sources(tmp_path, synthetic_files.files), out)
    ours = list(csv.reader(out.open(newline="")))
    shared = shared_rows(data_dir)
    assert ours[0] == shared[0]
    assert out.read_bytes()[:200].count(b"\r\n") >= 1
    assert (data_dir / "nb201" / "nb201_accuracy.csv").read_bytes()[:200].count(b"\r\n") >= 1

    def kinds(row):
        return [
            row[0].isdigit(),
            row[1].startswith("|") and row[1].count("~") == 6,
            re.fullmatch(r"\(\d, \d, \d, \d, \d, \d\)", row[2]) is not None,
        ] + [NUMBER.match(v) is not None and len(v.split(".")[1]) <= 6 for v in row[3:]]

    assert all(all(kinds(r)) for r in ours[1:]) and all(all(kinds(r)) for r in shared[1:])


@pytest.mark.data
def test_full_size_round_trip_reproduces_the_shared_table(kit, data_dir, tmp_path):
    """Full-size sources made from the shared table (landscapes CSV, BayesWatch DataFrame, constrained-tpe
    runs of 2 and 3 seeds averaging to the shared values) build the shared file byte for byte."""
    rows = shared_rows(data_dir)[1:]
    cells = [r[1] for r in rows]
    col = {
        name: np.array([float(r[i]) for r in rows]) for i, name in enumerate(NB201_COLUMNS) if i > 2
    }
    rng = np.random.default_rng(0)
    runs = np.where(rng.random(len(rows)) < 0.48, 2, 3)
    ctpe = {
        "cifar10": kit.ctpe_runs(col["cifar10_valid_acc"], col["params_m_cifar10"], runs, rng),
        "cifar100": kit.ctpe_runs(col["cifar100_test_acc"], col["params_m_cifar100"], runs, rng),
    }
    files = {
        "landscapes": kit.landscapes_csv(cells, [r[5] for r in rows]),
        "bayeswatch": kit.bayeswatch_pickle(cells, col["cifar10_test_acc"]),
        "ctpe": kit.ctpe_pickle(ctpe),
    }
    out = tmp_path / "nb201_accuracy.csv"
    build_nb201(write_sources(tmp_path, files), out)
    assert out.read_bytes() == (data_dir / "nb201" / "nb201_accuracy.csv").read_bytes()


@pytest.mark.data
def test_autoformer_round_trip_is_byte_exact(kit, data_dir, tmp_path):
    shared = data_dir / "autoformer" / "autoformer_tiny_100.json"
    (tmp_path / "autoformer").write_bytes(kit.pth_bytes(json.loads(shared.read_text())))
    out = tmp_path / "autoformer_tiny_100.json"
    build_autoformer({"autoformer": tmp_path / "autoformer"}, out)
    assert out.read_bytes() == shared.read_bytes()
