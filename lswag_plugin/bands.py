"""The label-free layer band [l̂, L̂] of a search space (L-SWAG, Eq. 6).

Once per search space, without labels' influence on the choice: sample random networks at
initialisation, compute the mean log σ of each weight layer's gradients across the K minibatches, average
per percentile bin of depth, and take the band where that profile spikes. The spike detector is our
choice (the paper's supplement was not available): bins whose mean exceeds the median of the ten bins by
``k`` scaled MADs (``scipy.stats.median_abs_deviation(scale="normal")``); the band is the longest run of
such bins. When no bin stands out, the band is all bins — what we measured on NAS-Bench-201 and
AutoFormer, where mean log σ falls steadily with depth (see docs/results.md, "Layer band of
NAS-Bench-201").
"""

from __future__ import annotations

import hashlib
import json
import math
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from lswag_plugin.cache import default_cache_path
from lswag_plugin.engine import (
    LayerBand,
    Needs,
    PassResults,
    Scorer,
    ScoringConfig,
    percentile_bin,
    register_proxy,
    score,
)
from lswag_plugin.engine.band import NUM_BINS
from lswag_plugin.output import figure, progress
from lswag_plugin.proxies.zico import mean_and_std

__all__ = ["BandEstimate", "detect_spike", "estimate_band", "layer_log_sigma_bins"]

_PROFILE = "_layer_log_sigma"


@register_proxy(_PROFILE, needs=Needs.WEIGHT_GRADS, min_minibatches=2)
def _layer_log_sigma(ctx: PassResults) -> float:
    """Mean log σ(|g|) per percentile bin, stored in ``ctx.components`` (internal: band estimation)."""
    d = len(ctx.weight_layers)
    sums = np.zeros(NUM_BINS)
    counts = np.zeros(NUM_BINS)
    for i, (name, _) in enumerate(ctx.weight_layers):
        _, std = mean_and_std([g.abs() for g in ctx.weight_grads[name]])
        nonzero = std[std > 0]
        if nonzero.numel():
            b = percentile_bin(i, d)
            sums[b] += float(nonzero.log().mean())
            counts[b] += 1
    for b in range(NUM_BINS):
        ctx.components[f"{_PROFILE}.{b}"] = sums[b] / counts[b] if counts[b] else math.nan
    return 0.0


def layer_log_sigma_bins(
    model: torch.nn.Module, batch: Any, *, seed: int = 0, device: str = "cpu"
) -> np.ndarray:
    """Returns the mean log σ(|∂L/∂w|) of the weight layers in each of the 10 percentile bins (NaN if empty)."""
    return _profile(score(model, batch, _PROFILE, seed=seed, batch_size=None, device=device))


def _profile(scores: Any) -> np.ndarray:
    return np.array([scores.components[f"{_PROFILE}.{b}"] for b in range(NUM_BINS)])


def detect_spike(bin_means: Sequence[float], *, k: float = 3.0) -> LayerBand | None:
    """Returns the band of bins whose mean log σ exceeds the median by ``k`` scaled MADs, or None.

    Example:
        >>> detect_spike([-5, -5.1, -5, -2, -1.8, -5, -5.2, -5, -5.1, -5])
        LayerBand(low=3, high=4)
        >>> detect_spike([-4.8, -5.2, -5.6, -6, -6.3, -6.7, -7, -7.4, -7.8, -7.2]) is None
        True
    """
    m = np.asarray(bin_means, dtype=float)
    ok = ~np.isnan(m)
    if ok.sum() < 3:
        return None
    median = float(np.median(m[ok]))
    mad = float(stats.median_abs_deviation(m[ok], scale="normal"))
    if mad == 0:
        return None
    spike = ok & (m > median + k * mad)
    best: tuple[int, int] | None = None
    start = None
    for b in range(len(m) + 1):
        if b < len(m) and spike[b]:
            start = b if start is None else start
        elif start is not None:
            if best is None or b - start > best[1] - best[0] + 1:
                best = (start, b - 1)
            start = None
    return LayerBand(*best) if best else None


@dataclass
class BandEstimate:
    """The band found for a space, with the profile behind it."""

    space: str
    band: tuple[int, int]
    spike_found: bool
    bin_means: list[float]
    bin_stds: list[float]
    num_networks: int
    k: float
    settings: dict[str, Any]

    @property
    def layer_band(self) -> LayerBand:
        """The band as a :class:`LayerBand`."""
        return LayerBand(*self.band)

    def plot(self, path: str | Path) -> Path:
        """Writes the mean log σ per percentile bin (± std over networks), band shaded, to a PNG."""
        with figure(path, figsize=(6, 3.5), dpi=120) as (_, ax):
            bins = np.arange(NUM_BINS)
            ax.errorbar(bins, self.bin_means, yerr=self.bin_stds, marker="o", capsize=3)
            lo, hi = self.band
            ax.axvspan(
                lo - 0.4, hi + 0.4, alpha=0.15, color="tab:green", label=f"band [{lo}, {hi}]"
            )
            ax.set_xlabel("percentile bin of depth (weight layers)")
            ax.set_ylabel("mean log σ(|∂L/∂w|)")
            verdict = "spike" if self.spike_found else "no spike: all bins"
            ax.set_title(f"{self.space}: {self.num_networks} networks at init ({verdict})")
            ax.set_xticks(bins)
            ax.legend()
        return Path(path)


def _cache_file(space: str, settings: dict[str, Any]) -> Path:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:12]
    return default_cache_path().parent / "bands" / f"{space}-{digest}.json"


def estimate_band(
    space: Any,
    config: ScoringConfig | tuple[torch.Tensor, torch.Tensor] | None = None,
    *,
    num_networks: int = 1000,
    k: float = 3.0,
    use_cache: bool = True,
    show_progress: bool = False,
    workers: int = 1,
    **settings: Any,
) -> BandEstimate:
    """Returns the label-free band of ``space``, computed once and cached on disk.

    Args:
        space: A :class:`~lswag_plugin.spaces.SearchSpace`.
        config: The scoring settings: the batch the networks are probed with, ``num_classes``,
            ``resolution`` (default the space's) and ``seed`` (of the architecture sample; network
            ``i`` is initialised from ``seed + i``). An ``(x, y)`` batch is accepted too (deprecated).
        num_networks: Random architectures to sample (the paper uses ~1000).
        k: Spike threshold in scaled MADs above the median bin.
        use_cache: Read/write ``$LSWAG_CACHE_DIR/bands/<space>-<settings hash>.json``.
        show_progress: A progress bar on stderr.
        workers: Networks scored at once, each in a worker process (see
            :class:`~lswag_plugin.engine.Scorer`).
        **settings: Fields of :class:`~lswag_plugin.engine.ScoringConfig` overriding ``config``'s.
    """
    if isinstance(config, tuple):
        warnings.warn(
            "estimate_band(space, (x, y)) is deprecated; pass a ScoringConfig (or data=(x, y))",
            DeprecationWarning,
            stacklevel=2,
        )
        settings = {"data": config, "batch_size": None, **settings}
        config = None
    scorer = Scorer(_PROFILE, config, space=space, workers=workers, **settings)
    config = scorer.config
    key = {
        "space": space.name,
        "num_networks": num_networks,
        "seed": config.seed,
        "num_classes": config.num_classes,
        "resolution": config.resolution,
        "data": config.fingerprint(),
    }
    if config.minibatches != 2:  # the default keeps the files it always had
        key["minibatches"] = config.minibatches
    path = _cache_file(space.name, key)
    if use_cache and path.exists():
        cached = json.loads(path.read_text())
        profile = np.asarray(cached["bin_means"], dtype=float)
        found = detect_spike(profile, k=k)
        return BandEstimate(
            **{**cached, "k": k, "spike_found": found is not None, "band": _band_tuple(found)}
        )
    rng = np.random.default_rng(config.seed)
    archs = [space.sample(rng) for _ in range(num_networks)]
    builders = [scorer.builder(arch, seed=config.seed + i) for i, arch in enumerate(archs)]
    rows = []
    chunk = max(1, 4 * scorer.workers)  # workers score a chunk at once; the bar moves per chunk
    bar = progress(
        range(0, num_networks, chunk), desc=f"band {space.name}", disable=not show_progress
    )
    for start in bar:
        for result in scorer.map(builders[start : start + chunk], catch=False):
            rows.append(_profile(result))
    scorer.close()
    profile_all = np.vstack(rows)
    with np.errstate(all="ignore"):
        means = np.nanmean(profile_all, axis=0)
        stds = np.nanstd(profile_all, axis=0)
    found = detect_spike(means, k=k)
    estimate = BandEstimate(
        space=space.name,
        band=_band_tuple(found),
        spike_found=found is not None,
        bin_means=[float(v) for v in means],
        bin_stds=[float(v) for v in stds],
        num_networks=num_networks,
        k=k,
        settings=key,
    )
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(estimate), indent=1))
    return estimate


def _band_tuple(band: LayerBand | None) -> tuple[int, int]:
    band = band or LayerBand()
    return (band.low, band.high)
