"""benchmarks/_common.py: the benchmark scripts' flags, their ScoringConfig and the one JSON output."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "_common.py"


@pytest.fixture(scope="module")
def common():
    spec = importlib.util.spec_from_file_location("benchmarks_common", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _parser(common, *names, **kwargs) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bench")
    common.add_flags(parser, *names, **kwargs)
    return parser


def test_flags_build_the_scoring_config(common, tmp_path):
    parser = _parser(common, *common.SCORING, "seed", "data_dir", num_classes=100, threads=None)
    argv = (
        "--batch-size 16 --minibatches 4 --seed 3 --resolution 32 --precision bfloat16 --device cpu"
    )
    args = common.parse(parser, ["--data-dir", str(tmp_path), *argv.split()])
    config = common.scoring_config(args)
    assert (config.batch_size, config.minibatches, config.resolution) == (16, 4, 32)
    assert (config.num_classes, config.seed, config.precision) == (100, 3, "bfloat16")
    assert (config.device, config.threads, config.data) == ("cpu", None, None)
    assert args.data_dir == tmp_path
    # overrides win over the flags (a script's fixed score seed, one value of a multi-valued flag)
    assert common.scoring_config(args, seed=0, batch_size=8).seed == 0


def test_data_default_inside_the_data_dir(common, tmp_path):
    parser = _parser(common, "data_dir", "data", data=common.CIFAR10)
    args = common.parse(parser, ["--data-dir", str(tmp_path)])
    assert args.data == str(tmp_path / "images" / "cifar10_sample.npz")
    args = common.parse(parser, ["--data-dir", str(tmp_path), "--data", "mine.npz"])
    assert args.data == "mine.npz"


def test_many_values_and_checked_numbers(common, capsys):
    parser = _parser(
        common, "batch_size", "workers", many=("batch_size", "workers"), workers=[1, 2]
    )
    args = common.parse(parser, ["--batch-size", "32", "64"])
    assert (args.batch_size, args.workers) == ([32, 64], [1, 2])
    assert common.parse(parser, []).batch_size == [64]
    with pytest.raises(SystemExit):
        common.parse(parser, ["--batch-size", "0"])
    assert "must be >= 1" in capsys.readouterr().err


def test_unknown_flag_names_are_refused(common):
    with pytest.raises(KeyError, match="batch"):
        _parser(common, "batch")
    with pytest.raises(KeyError, match="seeds"):
        _parser(common, "seed", seeds=1)


def test_bad_settings_stop_the_script(common):
    args = common.parse(_parser(common, "batch_size", "minibatches"), ["--batch-size", "2"])
    with pytest.raises(SystemExit, match="minibatches"):
        common.scoring_config(args, minibatches=4)


def test_emit_prints_the_last_line_and_writes_the_file(common, tmp_path, capsys):
    result = {"rho": np.float64(0.5), "n": np.int64(3), "nan": math.nan, "path": tmp_path}
    result["rows"] = (np.array([1.0, -math.inf]),)
    out = tmp_path / "sub" / "result.json"
    print("| a table |")
    common.emit(result, out)
    last = capsys.readouterr().out.splitlines()[-1]
    expected = {"rho": 0.5, "n": 3, "nan": None, "path": str(tmp_path), "rows": [[1.0, "-inf"]]}
    assert json.loads(last) == expected
    assert json.loads(out.read_text()) == expected
    common.emit({"a": 1})  # no file: stdout only
    assert capsys.readouterr().out == '{"a": 1}\n'
