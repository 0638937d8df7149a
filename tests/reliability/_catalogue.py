"""The bad-input catalogue: each entry is a model, a batch and proxies, and the promised outcome.

Shared by ``test_catalogue.py`` (the engine directly) and ``test_hosts.py`` (inside Optuna and NNI).
A module, not a conftest, so that the entries can be imported by name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from lswag_plugin.errors import BadBatch, BadData, LswagError, ProxyNotApplicable

CLASSES = 4
BATCH = 8


def batch(
    n: int = BATCH, *, classes: int = CLASSES, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A small seeded image batch, 3×8×8, labels cycling over ``classes``."""
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, 8, 8, generator=g), torch.arange(n) % classes


def cnn(*, inplace: bool = False, bn: bool = True, seed: int = 0) -> nn.Module:
    """A tiny CNN (conv, BN, ReLU, pool, linear) initialised from ``seed``."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = [nn.Conv2d(3, 8, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(8))
    layers += [
        nn.ReLU(inplace=inplace),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(inplace=inplace),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, CLASSES),
    ]
    return nn.Sequential(*layers)


class Raises(nn.Module):
    """A model whose forward raises after its first layer (a user's shape bug)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.act(self.conv(x))
        raise RuntimeError("user op failed on purpose")


class Scaled(nn.Module):
    """``cnn()`` with its logits multiplied by ``factor`` (``nan`` or ``inf`` gives non-finite outputs)."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.net = cnn()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * self.factor


class Functional(nn.Module):
    """Activations only as ``F.relu``: nothing for Ψ's hooks to read."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.fc = nn.Linear(4, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x)).mean((2, 3)))


class Tied(nn.Module):
    """Two linear layers sharing one weight matrix (as tied embeddings do)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)
        self.act = nn.ReLU()
        self.fc1 = nn.Linear(8, 8)
        self.fc2 = nn.Linear(8, 8)
        self.fc2.weight = self.fc1.weight
        self.head = nn.Linear(8, CLASSES)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.conv(x)).mean((2, 3))
        return self.head(self.act(self.fc2(self.act(self.fc1(h)))))


def with_hooks(model: nn.Module) -> nn.Module:
    """Adds forward, forward-pre, full-backward and parameter-gradient hooks that count their calls.

    The counts are in ``model.hook_calls`` (a dict shared by every hook).
    """
    calls = {"forward": 0, "pre": 0, "backward": 0, "tensor": 0}
    model.hook_calls = calls  # type: ignore[assignment]

    def forward(m: nn.Module, a: Any, o: Any) -> None:
        calls["forward"] += 1

    def pre(m: nn.Module, a: Any) -> None:
        calls["pre"] += 1

    def backward(m: nn.Module, gi: Any, go: Any) -> None:
        calls["backward"] += 1

    def tensor(g: torch.Tensor) -> None:
        calls["tensor"] += 1

    model.register_forward_hook(forward)
    model.register_forward_pre_hook(pre)
    model.register_full_backward_hook(backward)
    first = next(model.parameters())
    first.register_hook(tensor)
    return model


def eval_frozen(model: nn.Module) -> nn.Module:
    """``model`` in eval mode with its first parameters frozen and a stale ``.grad`` on the last."""
    model.eval()
    params = list(model.parameters())
    for p in params[:2]:
        p.requires_grad_(False)
    params[-1].grad = torch.full_like(params[-1], 0.5)
    return model


def on_meta() -> nn.Module:
    """A model whose parameters are on the meta device (no data) while ``device="cpu"`` is asked for."""
    with torch.device("meta"):
        return cnn()


def empty_loader() -> Any:
    """A DataLoader over an empty dataset."""
    from torch.utils.data import DataLoader, TensorDataset

    x, y = batch()
    return DataLoader(TensorDataset(x[:0], y[:0]), batch_size=4)


def applicable(entries: list[Entry]) -> list[Entry]:
    """The entries that apply on this machine."""
    return [e for e in entries if not (e.needs_no_cuda and torch.cuda.is_available())]


@dataclass(frozen=True)
class Entry:
    """One catalogue entry.

    Attributes:
        id: Test id.
        model: Builds the (bad or odd) model.
        data: Builds the batch source.
        proxies: Proxies to compute.
        error: The typed error promised, or None.
        match: A regular expression the error message (or the host's fail reason) must match.
        nan: The promised outcome is NaN scores and a :class:`NonFiniteOutputWarning`.
        kwargs: Further arguments of :func:`lswag_plugin.score`.
        host_level: ``"model"`` if the entry is a bad candidate (the same host study can hold it),
            ``"data"`` if it is a bad batch or setting of the whole objective.
        bug: Why the engine does not keep its promise yet (the test is xfail(strict=True)), or None.
        needs_no_cuda: The entry only makes sense on a machine without CUDA (skipped where it has).
    """

    id: str
    model: Callable[[], nn.Module]
    data: Callable[[], Any] = batch
    proxies: str = "lswag,nwot"
    error: type[BaseException] | None = None
    match: str | None = None
    nan: bool = False
    kwargs: dict[str, Any] = field(default_factory=dict)
    host_level: str = "model"
    bug: str | None = None
    needs_no_cuda: bool = False

    @property
    def fails(self) -> bool:
        """Whether a host must record this entry as a failed trial."""
        return self.error is not None or self.nan


#: Every entry of the issue's bad-input list that :func:`lswag_plugin.score` itself receives.
ENTRIES: list[Entry] = [
    Entry(
        "no_readable_activations",
        Functional,
        error=ProxyNotApplicable,
        match=r"lswag, nwot need activation modules.*F\.relu",
    ),
    Entry("forward_raises", Raises, error=RuntimeError, match="user op failed on purpose"),
    Entry("output_nan", lambda: Scaled(math.nan), nan=True, match="NaN"),
    Entry("output_inf", lambda: Scaled(math.inf), nan=True, match="NaN"),
    Entry(
        "output_shape_vs_labels",
        lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU()),
        error=BadBatch,
        match=r"model output has shape \(4, 4, 6, 6\).*\(4,\)",
    ),
    Entry(
        "output_width_vs_num_classes",
        cnn,
        error=BadBatch,
        match="num_classes=10",
        kwargs={"num_classes": 10},
    ),
    Entry(
        "batch_of_one",
        cnn,
        data=lambda: batch(1),
        error=BadBatch,
        match="1 sample.*at least 2",
        host_level="data",
    ),
    Entry(
        "empty_dataloader",
        cnn,
        data=empty_loader,
        error=BadData,
        match="no batch",
        host_level="data",
    ),
    Entry(
        "labels_out_of_range",
        cnn,
        data=lambda: batch(classes=6),
        error=BadBatch,
        match="label 5 is out of range for a model with 4 outputs",
        host_level="data",
    ),
    Entry(
        "labels_negative",
        cnn,
        data=lambda: (batch()[0], batch()[1] - 1),
        error=BadBatch,
        match="labels must be >= 0",
        host_level="data",
    ),
    Entry(
        "labels_not_1d",
        cnn,
        data=lambda: (batch()[0], batch()[1][:, None]),
        error=BadBatch,
        match="1-D integer",
        host_level="data",
    ),
    Entry(
        "inputs_integer",
        cnn,
        data=lambda: ((batch()[0] * 50).to(torch.uint8), batch()[1]),
        error=BadBatch,
        match=r"floating point.*torch\.uint8.*x\.float\(\)",
        host_level="data",
    ),
    Entry(
        "inputs_and_labels_differ_in_length",
        cnn,
        data=lambda: (batch()[0], batch()[1][:5]),
        error=BadBatch,
        match=r"differ in length \(8 vs 5\)",
        host_level="data",
    ),
    Entry("inputs_half", cnn, data=lambda: (batch()[0].half(), batch()[1]), host_level="data"),
    Entry(
        "inputs_bfloat16", cnn, data=lambda: (batch()[0].bfloat16(), batch()[1]), host_level="data"
    ),
    Entry("model_bfloat16", lambda: cnn().bfloat16()),
    Entry("model_on_meta_device", on_meta, error=LswagError, match="meta device"),
    Entry(
        "cuda_requested_without_cuda",
        cnn,
        error=LswagError,
        match="cuda",
        kwargs={"device": "cuda"},
        host_level="data",
        needs_no_cuda=True,
    ),
    Entry("tied_weights", Tied, proxies="lswag,nwot,zico,snip,synflow"),
    Entry("inplace_activations", lambda: cnn(inplace=True), proxies="lswag,nwot,zico,meco"),
    Entry("carries_hooks", lambda: with_hooks(cnn()), proxies="lswag,nwot,snip,synflow"),
    Entry("eval_mode_frozen_params", lambda: eval_frozen(cnn()), proxies="lswag,nwot,snip"),
    Entry(
        "unknown_proxy",
        cnn,
        proxies="lswag,no_such_proxy",
        error=LswagError,
        match="unknown proxy 'no_such_proxy'; known proxies: .*lswag",
        host_level="data",
    ),
]
