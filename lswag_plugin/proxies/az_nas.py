"""AZ-NAS (Lee & Ham, "AZ-NAS: Assembling Zero-Cost Proxies for Network Architecture Search", CVPR 2024,
arXiv 2403.19232): four proxies from one forward and backward, and their non-linear rank aggregation.

Written from the paper's text only (its code is GPL-3.0 and was not read). Only the abstract and
third-party summaries of the method section could be retrieved in this session, so the definitions
below are the paper's as we read them from §3 ("Zero-cost proxies": expressivity, progressivity,
trainability, complexity; "Non-linear ranking aggregation"); its equation numbers are not quoted here
and the forms must be checked against the PDF (open question). Notation: a network with primary blocks
(its *stages*, :mod:`lswag_plugin.engine.structure`) whose outputs are ``F_1 … F_L``, and ``F_0`` the stem
(the first stage's input). All four are higher-is-better.

Definitions implemented
-----------------------
Expressivity (isotropy of the feature space, by PCA). For stage ``l``, the ``C``-dim feature vectors
``x`` of ``F_l`` at every sample and position (``M = N·H·W``; ``N·T`` tokens for a ViT) have the
covariance ``Σ_l = (1/M) Σ (x − μ)(x − μ)ᵀ`` with eigenvalues ``λ_1 … λ_C``;
``p_i = λ_i / Σ_j λ_j`` and ``s_E^l = −Σ_i p_i log p_i`` (the entropy of the principal-component
spectrum: ``log C`` for isotropic features, 0 when one direction holds all the variance).
``s_E = Σ_{l=1..L} s_E^l``.

Progressivity (expressivity should grow with depth): ``s_P = min_{l=1..L} (s_E^l − s_E^{l−1})``, with
``s_E^0`` the stem's.

Trainability (dynamical isometry: the Jacobian of each block should have a scale near 1). For each
block ``b`` (every cell or residual block of a CNN, every transformer block; the stem first, see
:mod:`lswag_plugin.engine.structure`), a Gaussian probe ``v ~ N(0, I)`` shaped like its output ``F_b`` is
pulled back to its input ``F_{b−1}``: ``σ_b = ‖J_bᵀ v‖ / ‖v‖`` with ``J_b = ∂F_b/∂F_{b−1}`` (squared
norms summed over the K minibatches). ``s_T = (1/B) Σ_b (2 − σ_b − 1/σ_b)`` (≤ 0, 0 exactly when every
``σ_b = 1``).

Complexity: the FLOPs of one forward of one sample (``torch.utils.flop_counter``, 2 per MAC).

Aggregation (non-linear ranking): over a pool of ``N`` candidates, ``R_m(i) ∈ {1..N}`` is candidate
``i``'s rank by proxy ``m`` in ascending order (the best has ``N``), and
``s_AZ(i) = Σ_{m ∈ {E, P, T, C}} log(R_m(i) / N)``. A candidate ranked low by any one proxy is pulled
down far more than a high rank lifts it (log), so networks ranked high by all proxies come first.
:func:`az_nas_pool` computes it for a table (what bench reports; the paper's ρ are measured so).

Choices the paper leaves open (ours)
------------------------------------
- Stages of an arbitrary model: the rule of :mod:`lswag_plugin.engine.structure` (changes of spatial size
  for CNNs, 4 groups of blocks for ViTs, stem = the first stage's input).
- The batch: the engine's shared passes (64 samples as 2 minibatches of 32); features and gradient
  norms are pooled over both exactly (means, scatters, squared norms add up).
- Eigenvalues below 0 (round-off) are set to 0; a feature with zero variance has ``s_E^l = 0``.
  Entropy in nats (``scipy.stats.entropy``). The class token counts as a token.
- ``s_E`` sums the stages, not the stem; ``s_P`` and ``s_T`` use the stem as ``F_0``.
- Trainability reads *blocks*, expressivity and progressivity read *stages*. Chosen on the tuning
  split (seed 1, 200 NB201 cells, CIFAR-10 valid; not the seed-0 report cells): with stages for all
  three, s_T had ρ −.17 … .09 and the aggregate .78; with a probe per block s_T had .49 and the
  aggregate .876 (blocks for s_E and s_P as well: .83). Batch norm in train mode couples the samples,
  so σ_b is read from whole-batch norms (no per-sample Jacobians); ``σ_b`` = 0 (a block whose output
  ignores its input, e.g. an NB201 cell with every path ``none``) gives ``s_T = −inf``: it ranks
  lowest, never NaN. A block whose input has no gradient is skipped.
- The probes are a backward through one block each (about one backward of the network in all), in
  the shared forward's graph, with a generator of their own seeded by the scoring seed.
- Ties share their mean rank (``scipy.stats.rankdata``); NaN scores rank lowest, with ``−inf``.
- One network at a time (Optuna, NNI, our search): the ``az_nas`` proxy ranks the candidate within a
  *reference sample* (the four scores of random, unlabelled architectures of the space, scored with the
  same settings; :func:`sample_reference`), i.e. ``R_m = 1 + #{r < s} + #{r = s}/2`` among the
  reference's ``n`` values and ``N = n + 1``: exactly :func:`az_nas_pool` of the reference plus the
  candidate, for that candidate.
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

from lswag_plugin.engine.config import file_fingerprint
from lswag_plugin.engine.context import PassResults
from lswag_plugin.engine.registry import Needs, register_proxy
from lswag_plugin.engine.captures.stage_features import StageFeature, StageFeatures
from lswag_plugin.errors import BadData, ProxyNotApplicable

__all__ = [
    "AZ_PROXIES",
    "AZ_REFERENCE_ENV",
    "AZReference",
    "az_nas_pool",
    "feature_entropy",
    "load_reference",
    "sample_reference",
]

#: The four AZ-NAS proxies, in the paper's order.
AZ_PROXIES = ("az_expressivity", "az_progressivity", "az_trainability", "az_complexity")
#: Environment variable naming the default reference file of the ``az_nas`` proxy.
AZ_REFERENCE_ENV = "LSWAG_AZ_REFERENCE"
_FORMAT = "lswag-az-nas-reference"


# -- the four proxies ----------------------------------------------------------------------------


def feature_entropy(feature: StageFeature) -> float:
    """Returns ``s_E^l``: the entropy (nats) of the normalised eigenvalues of the feature covariance.

    0 when the features have no variance.
    """
    import scipy.stats  # lazily: importing lswag_plugin does not import scipy

    eigenvalues = feature.covariance_eigenvalues().cpu().numpy()
    if not eigenvalues.sum() > 0:
        return 0.0
    return float(scipy.stats.entropy(eigenvalues))


def _stages(ctx: PassResults, proxy: str) -> StageFeatures:
    stages = ctx.stages
    if stages is None:  # pragma: no cover - the plan always captures them when needed
        raise RuntimeError("stage features were not captured")
    if stages.problem is not None or not stages.stages:
        raise ProxyNotApplicable(f"{proxy} needs the stages of the network: {stages.problem}")
    return stages


def _consecutive(stages: StageFeatures, proxy: str) -> list[tuple[StageFeature, StageFeature]]:
    features = stages.features
    if len(features) < 2:
        raise ProxyNotApplicable(
            f"{proxy} compares consecutive stages but the network has one feature map "
            f"({features[0].name}); see lswag_plugin.engine.structure for the rule"
        )
    return list(itertools.pairwise(features))


@register_proxy("az_expressivity", direction="max", needs=Needs.STAGE_FEATURES)
def az_expressivity(ctx: PassResults) -> float:
    """AZ-NAS expressivity: Σ over stages of the entropy of the feature covariance's eigenvalues.

    ``s_E = Σ_l −Σ_i p_i log p_i``, ``p_i = λ_i / Σ_j λ_j`` the normalised principal-component variances
    of stage ``l``'s feature vectors (see the module docstring).
    """
    return sum(feature_entropy(f) for f in _stages(ctx, "az_expressivity").stages)


@register_proxy("az_progressivity", direction="max", needs=Needs.STAGE_FEATURES)
def az_progressivity(ctx: PassResults) -> float:
    """AZ-NAS progressivity: the smallest increase of expressivity from one stage to the next.

    ``s_P = min_l (s_E^l − s_E^{l−1})`` over consecutive features, the stem first.
    """
    pairs = _consecutive(_stages(ctx, "az_progressivity"), "az_progressivity")
    return min(feature_entropy(b) - feature_entropy(a) for a, b in pairs)


@register_proxy("az_trainability", direction="max", needs=Needs.STAGE_FEATURES)
def az_trainability(ctx: PassResults) -> float:
    """AZ-NAS trainability: mean over blocks of ``2 − σ_b − 1/σ_b``, σ_b a block Jacobian's scale.

    ``σ_b = ‖J_bᵀ v‖ / ‖v‖`` for ``J_b = ∂F_b/∂F_{b−1}`` (consecutive block features, the stem first) and
    a Gaussian probe ``v`` at the block's output. 0 is best; −inf when a block passes no gradient.
    """
    stages = _stages(ctx, "az_trainability")
    terms = []
    for probe in stages.jacobians:
        if math.isnan(probe.pulled_sq):
            continue  # the block's input has no gradient
        if probe.pulled_sq <= 0 or not math.isfinite(probe.pulled_sq):
            return -math.inf
        sigma = probe.sigma
        terms.append(2.0 - sigma - 1.0 / sigma)
    if not terms:
        raise ProxyNotApplicable("az_trainability: no block carries a gradient from the one before")
    return float(np.mean(terms))


@register_proxy("az_complexity", direction="max", needs=Needs.FLOPS)
def az_complexity(ctx: PassResults) -> float:
    """AZ-NAS complexity: FLOPs of one forward of one sample (the engine's count, 2 per MAC)."""
    if ctx.flops is None:  # pragma: no cover - the plan always counts when FLOPS is needed
        raise RuntimeError("FLOPs were not counted")
    return float(ctx.flops)


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
        return cls(scores, dict(meta or {}))

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
        return cls.from_table(data["scores"], data.get("meta"))


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
        _LOADED[key] = AZReference.load(path)
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
