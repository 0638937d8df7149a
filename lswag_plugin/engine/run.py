"""``score``: one model, one batch, every requested proxy in shared passes on a private copy."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from torch import nn

from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.engine.scores import Scores
from lswag_plugin.engine.scoring import score_model
from lswag_plugin.engine.session import Scorer

__all__ = ["score", "score_model"]


def score(
    model: nn.Module,
    data: Any = None,
    proxies: str | Iterable[str] = ("lswag",),
    *,
    config: ScoringConfig | None = None,
    **settings: Any,
) -> Scores:
    """Returns the zero-cost scores of ``model`` on one batch, computing all proxies in shared passes.

    The caller's model is never changed: the engine scores a private copy (weights, train/eval mode,
    ``requires_grad``, ``.grad`` and hooks of ``model`` are as before, even when an error is raised).

    The settings are those of :class:`~lswag_plugin.engine.ScoringConfig`: pass one as ``config``, or
    pass its fields as keyword arguments (they override the config's). This is
    ``Scorer(proxies, config, **settings).score(model)``: to score many models on one batch, keep a
    :class:`~lswag_plugin.engine.Scorer`, which loads and places the batch once and uses the cache.

    Args:
        model: Any ``nn.Module`` classifier (timm, torchvision, a search-space network).
        data: ``(x, y)`` tensors, a DataLoader, a ``.npz`` path, an image folder, or None for the default
            photographs shipped by scikit-image (see :func:`lswag_plugin.data.load_batch`).
        proxies: Names (``"lswag"``, ``"lswag,nwot"``, ``["zico", "swap"]`` or ``"all"``).
        config: The scoring settings (default ``ScoringConfig()``).
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s:
            ``device`` (``"cpu"``, ``"cuda"``, ``"auto"``), ``seed`` (the batch subset and every random
            draw of the passes), ``batch_size`` (64 as in the paper), ``minibatches`` (K), ``resolution``,
            ``num_classes`` (checked against the output width), ``layer_band``, ``options`` (per proxy),
            ``precision`` (``"bfloat16"``/``"float16"`` autocast the shared forwards), ``threads``,
            ``loss_fn``.

    Raises:
        TypeError: A setting that is not a field of ScoringConfig (the message lists them).
        UnknownProxy: A proxy name is not registered.
        BadBatch: Too few samples for K minibatches, labels out of range, output shape mismatch.
        ProxyNotApplicable: The model lacks what a proxy reads (e.g. activation modules).

    Returns:
        A :class:`Scores`. If the model's output is NaN/inf every score is NaN and a
        :class:`~lswag_plugin.errors.NonFiniteOutputWarning` is issued (a host study can go on).

    Example:
        >>> import torch
        >>> from torch import nn
        >>> import lswag_plugin
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU(), nn.Linear(16, 4))
        >>> x, y = torch.randn(8, 3, 8, 8), torch.arange(8) % 4
        >>> s = lswag_plugin.score(net, (x, y), "lswag,nwot", device="cpu")
        >>> sorted(s), s["lswag"] > 0
        (['lswag', 'nwot'], True)
    """
    if data is not None:
        settings["data"] = data
    scorer = Scorer(proxies, ScoringConfig.of(config, **settings))
    return scorer._score(model, owned=False, stacklevel=4)
