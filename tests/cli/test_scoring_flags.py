"""Every command that scores takes the same scoring flags; bad names and numbers end in one line, exit 2."""

from __future__ import annotations

import argparse

import pytest

from lswag_plugin.cli import build_parser, main
from lswag_plugin.cli._common import SCORING_FLAGS

SCORING_COMMANDS = ("score", "bench", "band", "search", "compare", "demo")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("command", SCORING_COMMANDS)
def test_every_scoring_flag_exists_on_every_scoring_command(command: str) -> None:
    flags = {s for a in _subparsers()[command]._actions for s in a.option_strings}
    missing = [f for f in SCORING_FLAGS if f not in flags]
    assert missing == [], f"lswag {command} lacks {missing}"


@pytest.mark.parametrize(
    "argv",
    [
        ["band", "--space", "typo"],
        ["bench", "--space", "typo", "--table", "t.csv", "--target", "acc"],
        ["search", "--space", "typo"],
        ["compare", "--space", "typo", "--table", "t.csv", "--target", "acc", "--out", "x"],
    ],
)
def test_unknown_space_is_one_line_and_exit_2(argv: list[str], capsys, tmp_path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("arch_str,acc\n")
    argv = [str(table) if a == "t.csv" else a for a in argv]
    assert main([*argv, "--device", "cpu"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "unknown search space 'typo'; known search spaces:" in err and "nb201" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["search", "--space", "nb201", "--budget", "-3"],
        ["bench", "--space", "nb201", "--table", "t", "--target", "a", "--batch-size", "0"],
        ["band", "--space", "nb201", "--networks", "two"],
        ["score", "timm:resnet18", "--workers", "0"],
        ["search", "--space", "nb201", "--mutation-prob", "1.5"],
    ],
)
def test_numbers_are_checked_by_the_parser(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert "error: argument" in capsys.readouterr().err


def test_cuda_without_cuda_is_refused_before_any_work(capsys) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    assert main(["search", "--space", "nb201", "--device", "cuda", "--budget", "2"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_fitted_files_reach_their_proxies_options() -> None:
    from lswag_plugin.cli import build_parser
    from lswag_plugin.cli._common import scoring_config

    args = build_parser().parse_args(
        [
            "score",
            "timm:resnet18",
            "--device",
            "cpu",
            "--libra-model",
            "l.json",
            "--az-reference",
            "r.json",
        ]
    )
    options = scoring_config(args).options
    assert options["libra"] == {"model": "l.json"} and options["az_nas"] == {"reference": "r.json"}
