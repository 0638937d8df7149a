import csv
import json

import pytest

from lswag_plugin.cli import main

CELLS = [
    "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|",
    "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|",
    "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|",
    "|skip_connect~0|+|none~0|skip_connect~1|+|none~0|none~1|skip_connect~2|",
]


def last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_score_nb201_and_module(tmp_path, capsys):
    factory = tmp_path / "net.py"
    factory.write_text(
        "from torch import nn\n"
        "def make(num_classes=10):\n"
        "    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),"
        " nn.Linear(4, num_classes))\n"
    )
    code = main(
        [
            "score",
            f"nb201:{CELLS[0]}",
            f"module:{factory}:make",
            "--proxies",
            "lswag,params",
            "--batch-size",
            "8",
            "--device",
            "cpu",
            "--json",
        ]
    )
    assert code == 0
    out = last_json(capsys)
    assert [r["model"] for r in out["results"]] == [f"nb201:{CELLS[0]}", f"module:{factory}:make"]
    assert out["results"][0]["scores"]["params"] == 1_288_506
    assert out["results"][1]["scores"]["params"] == 4 * 27 + 4 + 4 * 10 + 10


def test_score_errors_are_clean(capsys):
    assert main(["score", "nb201:|bogus~0|", "--device", "cpu"]) == 2
    assert "NB201" in capsys.readouterr().err
    assert main(["score", f"nb201:{CELLS[0]}", "--proxies", "nope", "--device", "cpu"]) == 2
    assert "known proxies" in capsys.readouterr().err
    assert main(["score", f"nb201:{CELLS[0]}", "--data", "/missing.npz", "--device", "cpu"]) == 2
    assert "/missing.npz" in capsys.readouterr().err


@pytest.fixture()
def table(tmp_path):
    path = tmp_path / "t.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["arch_str", "acc"])
        for i, c in enumerate(CELLS):
            w.writerow([c, [94.0, 10.0, 85.0, 60.0][i]])
    return path


def test_bench_json_out_and_cache(table, tmp_path, capsys):
    args = [
        "bench",
        "--space",
        "nb201",
        "--table",
        str(table),
        "--target",
        "acc",
        "--proxies",
        "lswag,nwot,params",
        "--batch-size",
        "8",
        "--device",
        "cpu",
        "--cache",
        str(tmp_path / "c.sqlite"),
        "--out",
        str(tmp_path / "scores.csv"),
        "--json",
    ]
    assert main(args) == 0
    first = last_json(capsys)
    assert first["n"] == 4 and first["scored"] == 4 and first["from_cache"] == 0
    assert set(first["spearman"]) == {"lswag", "nwot", "params"}
    with (tmp_path / "scores.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and {"lswag", "lswag.lambda", "lswag.psi", "nwot", "params"} <= set(
        rows[0]
    )
    disconnected = next(r for r in rows if r["arch_str"] == CELLS[1])
    assert float(disconnected["lswag"]) == 0.0 and disconnected["nwot"] == "-inf"
    assert main(args) == 0
    second = last_json(capsys)
    assert second["scored"] == 0 and second["from_cache"] == 4
    assert second["spearman"] == first["spearman"]


def test_bench_precision_has_cache_entries_of_its_own(table, tmp_path, capsys):
    args = ["bench", "--space", "nb201", "--table", str(table), "--target", "acc"]
    args += ["--proxies", "nwot", "--batch-size", "8", "--device", "cpu"]
    args += ["--cache", str(tmp_path / "c.sqlite"), "--json"]
    assert main(args) == 0
    assert last_json(capsys)["scored"] == 4
    assert main([*args, "--precision", "bfloat16"]) == 0
    assert last_json(capsys)["scored"] == 4  # not read back from the float32 entries
    assert main([*args, "--precision", "float32"]) == 0
    assert last_json(capsys)["from_cache"] == 4  # float32 is the default: the same entries
