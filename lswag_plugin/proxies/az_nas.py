"""AZ-NAS (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search", CVPR 2024,
arXiv 2403.19232): four proxies from one data-free pass, and their non-linear rank aggregation.

Written from the paper's text and from the facts of the authors' set-up (their code is GPL-3.0 and was
not read). The four proxies share one pass of their own, planned once (``Needs.DATA_FREE_BLOCKS``,
:mod:`lswag_plugin.engine.captures.data_free_blocks`): a batch of N(0, 1) images the size of the
scoring batch, through a private copy of the network re-initialised Kaiming-normal (fan-in, ReLU
gain; biases 0, norm layers 1 and 0; batch norm on batch statistics), read at the stem and at the
output of every block (``F_0`` the stem, ``F_1 … F_L`` each cell, reduction or residual block, or
transformer block, in order; :mod:`lswag_plugin.engine.structure`). No image and no label is used, and
no other proxy's value changes. All four are higher-is-better.

Expressivity (isotropy of the feature space). For each feature ``F_l``, ``l = 0..L`` (the stem
included), the ``C``-dim vectors at every sample and position (``N·H·W``; ``N·T`` tokens for a ViT),
centred, have the covariance ``Σ_l`` with eigenvalues ``λ_1 … λ_C``; ``p_i = λ_i / Σ_j λ_j`` and
``s_E^l = −Σ_i p_i log(p_i + 1e-8)``. ``s_E = Σ_{l=0..L} s_E^l``.

Progressivity (expressivity should grow with depth): ``s_P = min_{l=1..L} (s_E^l − s_E^{l−1})``.

Trainability (each block's Jacobian should have a scale near 1). For each block ``F_{l−1} → F_l``, a
Rademacher (±1) tensor ``v`` shaped like ``F_l`` is pulled back, ``u = Jᵀv`` (pixel-unshuffled where
the resolution halves, so positions match), and ``σ_l`` is the largest singular value of ``M = uᵀv / P``
(``P`` positions). ``s_T = (1/L) Σ_l (2 − σ_l − 1/σ_l)`` (≤ 0, 0 when every ``σ_l = 1``); an identity
block (``u == v`` exactly) or a block that ignores its input (``σ_l = 0``) gives ``s_T = −inf``: such
networks rank lowest, never NaN. A block whose positions cannot be matched to its input's is skipped.

Complexity: the FLOPs of one forward of one sample (``torch.utils.flop_counter``, 2 per MAC), counted in
the same pass.

Aggregation (non-linear ranking): over a pool of ``N`` candidates, ``R_m(i) ∈ {1..N}`` is candidate
``i``'s rank by proxy ``m`` in ascending order (the best has ``N``), and
``s_AZ(i) = Σ_{m ∈ {E, P, T, C}} log(R_m(i) / N)``. A candidate ranked low by any one proxy is pulled
down far more than a high rank lifts it (log), so networks ranked high by all proxies come first.
:func:`az_nas_pool` computes it for a table (what bench reports; the paper's ρ are measured so).
Ties share their mean rank (``scipy.stats.rankdata``); NaN scores rank lowest, with ``−inf``.

One network at a time (Optuna, NNI, our search): the ``az_nas`` proxy ranks the candidate within a
*reference sample* (the four scores of random, unlabelled architectures of the space, scored with the
same settings; :func:`sample_reference`), i.e. ``R_m = 1 + #{r < s} + #{r = s}/2`` among the
reference's ``n`` values and ``N = n + 1``: exactly :func:`az_nas_pool` of the reference plus the
candidate, for that candidate. A reference records the definitions it was scored with and is refused
by a newer one.

Why this set-up: chosen on the tuning split (seed 1, 300 NAS-Bench-201 cells; not the seed-0 report
cells) against the previous reading (real images, default initialisation, stages for expressivity and
progressivity, Gaussian probes of ‖Jᵀv‖/‖v‖ for trainability) and against the same pass on real
images (``benchmarks/az_setup.py``; figures in ``docs/results.md``, "AZ-NAS on NAS-Bench-201").
"""

from __future__ import annotations

import itertools
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lswag_plugin.engine.captures.data_free_blocks import DATA_FREE_BLOCKS, BlockFeatures
from lswag_plugin.engine.config import file_fingerprint
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, get_proxy, register_proxy
from lswag_plugin.errors import BadData, ProxyNotApplicable

__all__ = [
    "AZ_PROXIES",
    "AZ_REFERENCE_ENV",
    "AZReference",
    "az_nas_pool",
    "expressivity",
    "feature_entropy",
    "load_reference",
    "progressivity",
    "sample_reference",
    "trainability",
]

#: The four AZ-NAS proxies, in the paper's order.
AZ_PROXIES = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")
#: Environment variable naming the default reference file of the ``az_nas`` proxy.
AZ_REFERENCE_ENV = "LSWAG_AZ_REFERENCE"
_FORMAT = "lswag-az-nas-reference"


# -- the four proxies ----------------------------------------------------------------------------


def feature_entropy(eigenvalues: torch.Tensor) -> float:
    """Returns ``−Σ p log(p + 1e-8)`` of the normalised eigenvalues ``p = λ / Σλ`` (0 without variance).

    Example:
        >>> import torch
        >>> round(feature_entropy(torch.tensor([1.0, 1.0, 1.0, 1.0])), 4)  # isotropic: log 4
        1.3863
    """
    total = float(eigenvalues.sum())
    if not total > 0:
        return 0.0
    p = eigenvalues.double() / total
    return float(-(p * torch.log(p + 1e-8)).sum())


def _blocks(ctx: PassResults, proxy: str) -> BlockFeatures:
    blocks: BlockFeatures = ctx.data_free_blocks
    if blocks.problem is not None or not blocks.names:
        raise ProxyNotApplicable(
            f"{proxy} needs the stem and blocks of the network: {blocks.problem}"
        )
    return blocks


def expressivity(blocks: BlockFeatures) -> float:
    """Returns ``s_E``: Σ over the stem and every block of the entropy of its feature spectrum."""
    return sum(feature_entropy(ev) for ev in blocks.eigenvalues)


def progressivity(blocks: BlockFeatures) -> float:
    """Returns ``s_P``: the smallest increase of the feature entropy from one block to the next.

    Raises:
        ProxyNotApplicable: The network has a single feature map.
    """
    entropies = [feature_entropy(ev) for ev in blocks.eigenvalues]
    if len(entropies) < 2:
        raise ProxyNotApplicable(
            "az_progressivity compares consecutive blocks but the network has one feature map; see "
            "lswag_plugin.engine.structure for the rule"
        )
    return min(b - a for a, b in itertools.pairwise(entropies))


def trainability(blocks: BlockFeatures) -> float:
    """Returns ``s_T``: the mean over blocks of ``2 − σ − 1/σ``; −inf for an identity or dead block.

    Raises:
        ProxyNotApplicable: No block's probe could be read.
    """
    terms = []
    for probe in blocks.probes:
        if probe.identity or probe.sigma == 0:
            return -math.inf
        if math.isnan(probe.sigma):
            continue  # no gradient, or positions that cannot be matched
        terms.append(2.0 - probe.sigma - 1.0 / probe.sigma)
    if not terms:
        raise ProxyNotApplicable("az_trainability: no block carries a gradient from the one before")
    return float(np.mean(terms))


@register_proxy("az_expressivity", direction="max", needs=DATA_FREE_BLOCKS, version="2")
def az_expressivity(ctx: PassResults) -> float:
    """AZ-NAS expressivity: Σ over the stem and every block of the entropy of the feature spectrum.

    ``s_E = Σ_l −Σ_i p_i log(p_i + 1e-8)``, ``p_i`` the normalised eigenvalues of the covariance of
    feature ``l``'s vectors, on AZ-NAS's data-free pass (see the module docstring).
    """
    return expressivity(_blocks(ctx, "az_expressivity"))


@register_proxy("az_progressivity", direction="max", needs=DATA_FREE_BLOCKS, version="2")
def az_progressivity(ctx: PassResults) -> float:
    """AZ-NAS progressivity: the smallest increase of expressivity from one block to the next.

    ``s_P = min_l (s_E^l − s_E^{l−1})`` over consecutive features, the stem first.
    """
    return progressivity(_blocks(ctx, "az_progressivity"))


@register_proxy("az_trainability", direction="max", needs=DATA_FREE_BLOCKS, version="2")
def az_trainability(ctx: PassResults) -> float:
    """AZ-NAS trainability: mean over blocks of ``2 − σ − 1/σ``, σ the top singular value of a probe.

    ``σ_l`` is the largest singular value of ``uᵀv / P``, ``u = J_lᵀ v`` for a Rademacher ``v`` at block
    ``l``'s output. 0 is best; −inf when a block is an identity or ignores its input.
    """
    return trainability(_blocks(ctx, "az_trainability"))


@register_proxy("az_complexity", direction="max", needs=DATA_FREE_BLOCKS)
def az_complexity(ctx: PassResults) -> float:
    """AZ-NAS complexity: FLOPs of one forward of one sample (2 per MAC), counted in AZ-NAS's pass."""
    return float(ctx.data_free_blocks.flops)


# -- aggregation ---------------------------------------------------------------------------------


def _column(values: Iterable[float | None]) -> np.ndarray:
    """Returns the values as float64, NaN/None as −inf (ranked lowest)."""
    a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    a[np.isnan(a)] = -np.inf
    return a


def az_nas_pool(
    table: Mapping[str, Sequence[float | None]], proxies: Sequence[str] = AZ_PROXIES
) -> np.ndarray:
    """Returns the AZ-NAS aggregated score of every row: ``Σ_m log(R_m / N)`` with ranks in the pool.

    ``R_m`` is the row's ascending rank by proxy ``m`` among the ``N`` rows (ties share their mean
    rank; NaN/None ranks lowest, with −inf). Higher is better; the best possible score is 0.

    Args:
        table: Column name → one score per candidate; must hold every name in ``proxies``.
        proxies: The columns aggregated (default the four AZ-NAS proxies, all higher-is-better).

    Raises:
        KeyError: A proxy column is missing.
        ValueError: The columns differ in length or are empty.

    Example:
        >>> scores = az_nas_pool({"a": [1.0, 2.0, 3.0], "b": [3.0, 2.0, 1.0]}, proxies=["a", "b"])
        >>> [round(float(s), 4) for s in scores]
        [-1.0986, -0.8109, -1.0986]
    """
    columns = [_column(table[p]) for p in proxies]
    n = len(columns[0]) if columns else 0
    if n == 0 or any(len(c) != n for c in columns):
        raise ValueError(
            f"az_nas_pool needs columns of one non-zero length, got {[len(c) for c in columns]}"
        )
    import scipy.stats

    total = np.zeros(n)
    for c in columns:
        total += np.log(scipy.stats.rankdata(c, method="average") / n)
    return total


@dataclass(frozen=True)
class AZReference:
    """The four AZ-NAS scores of a reference sample of architectures: ranks for one candidate at a time.

    Attributes:
        scores: Proxy name → the reference's scores, sorted ascending (NaN stored as −inf).
        meta: What the sample is (space, size, seed, settings), for the reader.

    Example:
        >>> ref = AZReference.from_table({p: [1.0, 2.0, 3.0] for p in AZ_PROXIES})
        >>> round(ref.score({p: 2.5 for p in AZ_PROXIES}), 4)  # rank 3 of 4 by every proxy
        -1.1507
    """

    scores: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_table(
        cls, table: Mapping[str, Sequence[float | None]], meta: Mapping[str, Any] | None = None
    ) -> AZReference:
        """Returns the reference of a table holding the four proxies' columns (other columns ignored).

        ``meta`` describes the sample; without one, the table is taken to be scored with the current
        definitions of the proxies (``meta["versions"]``, which the ``az_nas`` proxy checks).

        Raises:
            BadData: A proxy column is missing, the columns differ in length or are empty.
        """
        missing = [p for p in AZ_PROXIES if p not in table]
        if missing:
            raise BadData(f"an AZ-NAS reference needs the columns {', '.join(missing)}")
        scores = {p: np.sort(_column(table[p])) for p in AZ_PROXIES}
        if len({len(v) for v in scores.values()}) != 1 or not len(scores[AZ_PROXIES[0]]):
            raise BadData(
                "an AZ-NAS reference needs one non-empty score per architecture and proxy"
            )
        return cls(scores, dict(meta) if meta is not None else {"versions": _definitions()})

    @property
    def size(self) -> int:
        """Architectures in the reference sample."""
        return len(self.scores[AZ_PROXIES[0]])

    def score(self, values: Mapping[str, float]) -> float:
        """Returns ``Σ_m log(R_m / (n + 1))``: the candidate's :func:`az_nas_pool` score in the
        reference plus itself (``R_m = 1 + #{r < s} + #{r = s}/2``)."""
        n = self.size
        total = 0.0
        for p in AZ_PROXIES:
            s = float(_column([values[p]])[0])
            ref = self.scores[p]
            below = int(np.searchsorted(ref, s, side="left"))
            equal = int(np.searchsorted(ref, s, side="right")) - below
            total += math.log((1 + below + equal / 2) / (n + 1))
        return total

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the reference as JSON (non-finite scores as null) and returns the path."""
        path = Path(path)
        data = {
            "format": _FORMAT,
            "version": 1,
            "meta": self.meta,
            "scores": {
                p: [float(x) if math.isfinite(x) else None for x in v]
                for p, v in self.scores.items()
            },
        }
        path.write_text(json.dumps(data, indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> AZReference:
        """Reads a reference written by :meth:`save`.

        Raises:
            BadData: The file is missing or is not an AZ-NAS reference.
        """
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as exc:
            raise BadData(f"cannot read the AZ-NAS reference {path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise BadData(
                f"{path} is not an AZ-NAS reference (no format {_FORMAT!r}); make one with "
                "lswag_plugin.proxies.az_nas.sample_reference"
            )
        return cls.from_table(data["scores"], data.get("meta") or {})


def _definitions() -> dict[str, str]:
    """The definition version of each AZ proxy (part of a reference's meta)."""
    return {p: get_proxy(p).version for p in AZ_PROXIES}


def sample_reference(space: Any, n: int, *, seed: int = 0, **settings: Any) -> AZReference:
    """Returns the reference of ``n`` random architectures of ``space``, scored by the four proxies.

    Score them with the settings of the candidates they will rank (batch, resolution, seed, ...);
    no labels are used. Candidates that fail to score are left out.

    Args:
        space: A search space (``lswag_plugin.spaces.get_space("nb201")``).
        n: Architectures sampled (``space.sample`` with ``numpy.random.default_rng(seed)``).
        seed: Seeds the sample.
        **settings: :class:`~lswag_plugin.engine.ScoringConfig` fields (``data``, ``batch_size``,
            ``device``, ``cache``... as :class:`~lswag_plugin.engine.Scorer` takes them).
    """
    from lswag_plugin.engine.session import Scorer

    rng = np.random.default_rng(seed)
    archs = [space.sample(rng) for _ in range(n)]
    with Scorer(list(AZ_PROXIES), space=space, **settings) as scorer:
        results = scorer.score_archs(archs)
        config = scorer.config
    rows = [r.values for r in results if r.values is not None]
    table = {p: [row[p] for row in rows] for p in AZ_PROXIES}
    meta = {
        "versions": _definitions(),
        "space": getattr(space, "name", type(space).__name__),
        "n": len(rows),
        "failed": n - len(rows),
        "sample_seed": seed,
        "scoring_seed": config.seed,
        "batch_size": config.batch_size,
        "resolution": config.resolution,
    }
    return AZReference.from_table(table, meta)


# -- the single-network aggregate ----------------------------------------------------------------

_LOADED: dict[tuple[str, float], AZReference] = {}


def _reference_path(options: Mapping[str, Any]) -> Path:
    path = options.get("reference") or os.environ.get(AZ_REFERENCE_ENV)
    if not path:
        raise BadData(
            "the az_nas proxy ranks a network within a reference sample: pass "
            "options={'az_nas': {'reference': 'az_reference.json'}} or set "
            f"${AZ_REFERENCE_ENV}; make one with lswag_plugin.proxies.az_nas.sample_reference (for "
            "a scored table, az_nas_pool gives the paper's pool ranking directly)"
        )
    return Path(path)


def load_reference(options: Mapping[str, Any]) -> AZReference:
    """Returns the :class:`AZReference` named by ``options["reference"]`` or ``$LSWAG_AZ_REFERENCE``
    (read once per file version).

    Raises:
        BadData: None is named, or the file is missing or damaged.
    """
    path = _reference_path(options)
    try:
        key = (str(path.resolve()), path.stat().st_mtime)
    except FileNotFoundError:
        return AZReference.load(path)  # raises BadData naming the file
    if key not in _LOADED:
        reference = AZReference.load(path)
        if reference.meta.get("versions") != _definitions():
            raise BadData(
                f"the AZ-NAS reference {path} was scored with other definitions of the AZ proxies "
                f"({reference.meta.get('versions')} against {_definitions()}); make it again with "
                "lswag_plugin.proxies.az_nas.sample_reference"
            )
        _LOADED[key] = reference
    return _LOADED[key]


def _reference_fingerprint(options: dict[str, Any]) -> str:
    return file_fingerprint(_reference_path(options))


@register_proxy(
    "az_nas",
    direction="max",
    needs=Needs.NOTHING,
    requires=lambda options: list(AZ_PROXIES),
    fingerprint=_reference_fingerprint,
)
def az_nas(ctx: PassResults) -> float:
    """AZ-NAS: Σ over its four proxies of log(rank / N), ranks within a reference sample plus this net.

    Reads the four scores from ``ctx.values`` (computed once, in the same passes) and the reference named
    by ``options={"az_nas": {"reference": PATH}}`` or ``$LSWAG_AZ_REFERENCE``. Higher is better (≤ 0).
    """
    reference = load_reference(ctx.options.get("az_nas", {}))
    return reference.score({p: ctx.values[p] for p in AZ_PROXIES})
