"""``lswag data`` and ``--table NAME`` on the command line."""

from __future__ import annotations

import json

from lswag_plugin.cli import main
from lswag_plugin.data import store


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_fetch_all_json_list_and_path(http_mirror, synthetic, tmp_path, capsys):
    dest = tmp_path / "dest"
    assert main(["data", "fetch", "all", "--dest", str(dest), "--json"]) == 0
    captured = capsys.readouterr()
    paths = json.loads(captured.out.strip().splitlines()[-1])
    assert list(paths) == ["nb201", "nb201-zc", "autoformer-tiny"]
    assert paths["nb201"] == str(dest / "nb201" / "nb201_accuracy.csv")
    assert "LSWAG_DATA_HOME=" in captured.err  # --dest elsewhere: how commands find it
    assert main(["data", "list", "--dest", str(dest), "--json"]) == 0
    listed = last_json(capsys)
    assert listed["nb201"]["fetched"] and listed["nb201"]["path"] == paths["nb201"]
    assert [s["repo"] for s in listed["nb201"]["sources"]] == [
        "test/landscapes",
        "test/bayeswatch",
        "test/ctpe",
    ]
    assert listed["nb201"]["licence"] == "MIT, Apache-2.0"
    assert main(["data", "list"]) == 0
    text = capsys.readouterr().out
    assert "nb201  (not fetched" in text and "source: test/ctpe @ 0123456789abcdef" in text
    assert main(["data", "path", "nb201", "--dest", str(dest)]) == 0
    assert capsys.readouterr().out.strip() == paths["nb201"]
    assert len(http_mirror.requests) == 5


def test_unreachable_network_exits_2_with_one_line(synthetic, closed_port_url, monkeypatch, capsys):
    monkeypatch.setenv(store.MIRROR_ENV, closed_port_url)
    assert main(["data", "fetch", "nb201"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`lswag data fetch nb201`" in err[0]
    bench = ["bench", "--space", "nb201", "--table", "nb201-zc#cifar10", "--target", "val_accuracy"]
    assert main([*bench, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "`lswag data fetch nb201-zc`" in err[0]


def test_unknown_name_exits_2(synthetic, capsys):
    assert main(["data", "path", "nb2O1"]) == 2
    assert "unknown dataset 'nb2O1'" in capsys.readouterr().err


def test_bench_reads_a_dataset_name(http_mirror, synthetic, capsys):
    code = main(
        [
            "bench",
            "--space",
            "nb201",
            "--table",
            "nb201",
            "--target",
            "cifar10_valid_acc",
            "--proxies",
            "params",
            "--sample",
            "2",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--cache",
            "none",
        ]
    )
    assert code == 0
    assert "nb201: 2 architectures, target cifar10_valid_acc" in capsys.readouterr().out
    assert len(http_mirror.requests) == 3
