import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin.cli import main


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 4)
    )


def _batch():
    g = torch.Generator().manual_seed(0)
    return torch.randn(16, 3, 8, 8, generator=g), torch.arange(16) % 4


def test_bfloat16_autocast_runs_the_forward_in_bfloat16_and_keeps_float32_weights():
    net, seen = _net(), []
    net[1].register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    full = lswag_plugin.score(net, _batch(), "lswag,nwot", device="cpu", batch_size=None)
    mixed = lswag_plugin.score(
        net, _batch(), "lswag,nwot", device="cpu", batch_size=None, precision="bfloat16"
    )
    assert full.meta["precision"] == "float32" and mixed.meta["precision"] == "bfloat16"
    assert seen == []  # the caller's hooks never fire (private copy)
    assert mixed["lswag"] != full["lswag"]  # autocast really ran
    assert mixed["lswag"] == pytest.approx(full["lswag"], rel=0.1)
    assert all(p.dtype == torch.float32 for p in net.parameters())


def test_unknown_precision_is_a_clear_error():
    with pytest.raises(ValueError, match="precision must be one of"):
        lswag_plugin.score(_net(), _batch(), "nwot", device="cpu", precision="int8")


def test_score_cli_takes_precision(tmp_path, capsys):
    code = main(
        [
            "score",
            "timm:resnet18",
            "--precision",
            "bfloat16",
            "--batch-size",
            "4",
            "--resolution",
            "32",
            "--device",
            "cpu",
            "--proxies",
            "nwot",
            "--json",
        ]
    )
    assert code == 0
    assert '"precision": "bfloat16"' in capsys.readouterr().out
