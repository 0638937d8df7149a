"""LIBRA-NAS (Casarin et al., CVPR 2025, Algorithm 1): pick three complementary proxies and fuse them.

Given a table of proxy scores for a labelled sample of architectures, :func:`fit` selects

1. ``z1``, the proxy with the best Spearman ρ against accuracy;
2. the *window*, the proxies with ``ρ_best − window < ρ ≤ ρ_best``; ``z2`` = the windowed proxy with the
   **lowest** information gain ``IG(z) = H(y | z1) − H(y | z1, z)`` (entropies from 24-bin histograms,
   as in NAS-Bench-Suite-Zero);
3. ``z3`` = the remaining windowed proxy whose size bias ``b = ρ(score, #params)`` is closest to the
   accuracy's own bias ``b_val = ρ(accuracy, #params)``.

The result is a :class:`LibraModel`, a JSON-serialisable combined proxy that scores **single
candidates** (there is no pool inside an Optuna or NNI trial) with statistics stored at fit time.

Fusion rules (a *choice* of this project, see docs/libra.md for the ablation):

- ``"rank"``: each member's (oriented) score is replaced by its mid-rank quantile within the fit sample
  (a streaming stand-in for ranking within a pool); the fused score is the (weighted) mean quantile.
  Ties of the quantiles are broken by the z-score rule (weight ``RANK_TIE_BREAK``): without that, every
  candidate better than the best of the fit sample on all members would score exactly 1, and a search
  could not tell the best candidates apart.
- ``"logrank"`` (default, with ``"snr"`` weights: the pair won the ablation on a tuning split): as
  ``"rank"``, with the log of the quantile, ``log((left + right + 1) / (2n + 2))`` (the paper's
  Σ log(rank/N), kept finite): a candidate must not be poor on any member.
- ``"zscore"``: each member score is oriented (negated for ``"min"`` proxies), passed through
  a signed log ``sign(s)·log1p(|s|)`` when that makes its fit sample less skewed (heavy-tailed proxies
  such as synflow), standardised with the fit sample's mean and standard deviation; the fused score is
  the (weighted) mean of the members' z-scores.

Member weights (``weighting``): ``"equal"``, or ``"snr"``: member h weighs ``ρ_h² / (1 − ρ_h²)``
(ρ_h its Spearman on the fit sample, clipped to [0, .999]), normalised to sum 1. If each member were
accuracy plus independent noise, ρ_h² / (1 − ρ_h²) would be its signal-to-noise ratio and these the
inverse-variance weights; a window that admits a member much weaker than z1 then costs little.

Fallback when the window holds fewer than three proxies: the model keeps the members the window holds
(``z1`` alone, or ``z1`` and ``z2``) and fuses those; it never reaches outside the window (proxies more
than ``window`` below ``z1`` in ρ are what the window exists to keep out). ``LibraModel.fallback`` says
when this happened.

Non-finite member scores (NWOT's −inf for a disconnected cell, NaN from a diverging model) make the
fused score −inf: such candidates rank lowest, never NaN.

Example:
    >>> import numpy as np
    >>> from lswag_plugin import libra
    >>> rng = np.random.default_rng(0)
    >>> acc = rng.normal(size=200)
    >>> params = acc + rng.normal(size=200)
    >>> table = {"good": acc + 0.1 * rng.normal(size=200), "noisy": acc + rng.normal(size=200),
    ...          "size": params, "junk": rng.normal(size=200)}
    >>> model = libra.fit(table, acc, params, window=0.5)
    >>> model.selected[0]
    'good'
    >>> strong = {"good": 1.0, "noisy": 0.5, "size": 0.2, "junk": 0.0}
    >>> weak = {"good": -1.0, "noisy": -0.5, "size": 0.2, "junk": 0.0}
    >>> model.score(strong) > model.score(weak)
    True
    >>> model.fusion, model.weighting, round(sum(model.weights), 6)
    ('logrank', 'snr', 1.0)
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from lswag_plugin.errors import LibraError

__all__ = [
    "FUSION_RULES",
    "WEIGHTINGS",
    "LibraError",
    "LibraModel",
    "MemberTransform",
    "bias",
    "fit",
    "information_gain",
    "load",
    "snr_weight",
    "spearman",
]

#: Fusion rules a :class:`LibraModel` can use; each scores one candidate at a time.
FUSION_RULES = ("rank", "logrank", "zscore")
#: How the members' terms are weighted (see the module docstring).
WEIGHTINGS = ("equal", "snr")
MODEL_FORMAT = "lswag-libra/1"
#: Weight of the z-score inside the ``"rank"`` and ``"logrank"`` rules: it only breaks ties of the
#: quantiles (candidates beyond the fit sample's range all have quantile 1), far below one quantile
#: step for any fit sample under 10^5 rows and |z| < 10^3.
RANK_TIE_BREAK = 1e-9


def _as_float_array(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise LibraError(f"column {name!r} is not numeric: {exc}") from exc
    return arr


def _finite_or_lowest(x: np.ndarray) -> np.ndarray:
    """Returns ``x`` with NaN replaced by −inf (a score that could not be computed ranks lowest)."""
    return np.where(np.isnan(x), -np.inf, x)


def spearman(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Returns Spearman's ρ of two samples (NaN counts as −inf: lowest; ties get mid-ranks).

    Example:
        >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 6)
        0.8
    """
    ra = stats.rankdata(_finite_or_lowest(np.asarray(a, dtype=np.float64)))
    rb = stats.rankdata(_finite_or_lowest(np.asarray(b, dtype=np.float64)))
    if ra.std() == 0 or rb.std() == 0:
        return 0.0  # a constant column carries no ranking
    return float(np.corrcoef(ra, rb)[0, 1])


def _binned(x: np.ndarray, bins: int) -> np.ndarray:
    """Returns the 0-based bin of each value on a ``bins``-bin equal-width histogram of the finite values.

    −inf/NaN fall into the lowest bin and +inf into the highest, as the extremes of the sample.
    """
    x = _finite_or_lowest(np.asarray(x, dtype=np.float64))
    finite = x[np.isfinite(x)]
    if finite.size == 0:
        return np.zeros(len(x), dtype=np.int64)
    edges = np.histogram_bin_edges(finite, bins=bins)
    return np.clip(np.digitize(x, edges[1:-1]), 0, bins - 1).astype(np.int64)


def _joint_entropy(*binned: np.ndarray) -> float:
    """Returns the entropy (bits) of the joint histogram of already-binned variables (scipy.stats.entropy)."""
    rows = np.stack(binned, axis=1)
    _, counts = np.unique(rows, axis=0, return_counts=True)
    return float(stats.entropy(counts, base=2))


def information_gain(
    target: Sequence[float] | np.ndarray,
    z1: Sequence[float] | np.ndarray,
    z: Sequence[float] | np.ndarray,
    *,
    bins: int = 24,
) -> float:
    """Returns IG(z) = H(y | z1) − H(y | z1, z) in bits, each variable on a ``bins``-bin histogram.

    Conditional entropies come from joint histograms: H(y | a) = H(y, a) − H(a). A duplicate of ``z1``
    has an information gain of exactly 0.

    Example:
        >>> y = [1.0, 2.0, 3.0, 4.0]
        >>> information_gain(y, [1, 2, 1, 2], [1, 2, 1, 2], bins=2)  # a duplicate of z1
        0.0
        >>> information_gain(y, [1, 2, 1, 2], [1, 1, 2, 2], bins=2)  # z tells y's bin, z1 does not
        1.0
    """
    y, a, b = (_binned(np.asarray(v, dtype=np.float64), bins) for v in (target, z1, z))
    h_y_given_a = _joint_entropy(y, a) - _joint_entropy(a)
    h_y_given_ab = _joint_entropy(y, a, b) - _joint_entropy(a, b)
    return h_y_given_a - h_y_given_ab


def bias(scores: Sequence[float] | np.ndarray, params: Sequence[float] | np.ndarray) -> float:
    """Returns the size bias of a ranking: Spearman ρ between the scores and #params."""
    return spearman(scores, params)


def _skew(x: np.ndarray) -> float:
    x = x[np.isfinite(x)]
    if x.size < 3 or x.std() == 0:
        return 0.0
    return float(abs(stats.skew(x)))


def _signed_log(x: np.ndarray | float) -> np.ndarray | float:
    return np.sign(x) * np.log1p(np.abs(x))


@dataclass(frozen=True)
class MemberTransform:
    """How one member proxy's raw score becomes a fused term (all numbers from the fit sample).

    Attributes:
        name: The proxy (a column of the fit table; the registered proxy of the same name when scoring
            models).
        sign: +1 for a ``"max"`` proxy, −1 for a ``"min"`` proxy (oriented score = sign × raw).
        log: Whether the oriented score goes through ``sign(s)·log1p(|s|)`` (chosen when it reduces the
            fit sample's skewness).
        mean: Mean of the transformed fit sample (finite values).
        std: Standard deviation of the transformed fit sample (1 when constant).
        reference: The sorted transformed fit sample (finite values), for the ``"rank"`` rule.
    """

    name: str
    sign: float
    log: bool
    mean: float
    std: float
    reference: tuple[float, ...] = ()

    @classmethod
    def from_sample(cls, name: str, raw: np.ndarray, *, sign: float) -> MemberTransform:
        """Returns the transform of ``name`` fitted on its raw fit-sample scores."""
        oriented = sign * _finite_or_lowest(np.asarray(raw, dtype=np.float64))
        use_log = bool(_skew(_signed_log(oriented)) < _skew(oriented))
        t = _signed_log(oriented) if use_log else oriented
        finite = np.sort(t[np.isfinite(t)])
        if finite.size == 0:
            raise LibraError(f"proxy {name!r} has no finite score in the fit sample")
        std = float(finite.std())
        return cls(
            name=name,
            sign=float(sign),
            log=use_log,
            mean=float(finite.mean()),
            std=std if std > 0 else 1.0,
            reference=tuple(float(v) for v in finite),
        )

    def transformed(self, raw: np.ndarray) -> np.ndarray:
        """Returns the oriented (and log-transformed if chosen) scores; NaN becomes −inf."""
        oriented = self.sign * _finite_or_lowest(np.asarray(raw, dtype=np.float64))
        return _signed_log(oriented) if self.log else oriented

    def zscore(self, raw: np.ndarray) -> np.ndarray:
        """Returns the z-scores of ``raw`` against the fit sample."""
        return (self.transformed(raw) - self.mean) / self.std

    def _ranks(self, raw: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """Returns (transformed scores, twice their mid-rank in the fit sample, fit-sample size)."""
        t = self.transformed(raw)
        ref = np.asarray(self.reference)
        twice = np.searchsorted(ref, t, side="left") + np.searchsorted(ref, t, side="right")
        return t, twice, len(ref)

    def quantile(self, raw: np.ndarray) -> np.ndarray:
        """Returns the mid-rank quantile in [0, 1] of ``raw`` within the fit sample (−inf → −inf)."""
        t, twice, n = self._ranks(raw)
        return np.where(np.isneginf(t), -np.inf, twice / (2.0 * n))

    def log_quantile(self, raw: np.ndarray) -> np.ndarray:
        """Returns ``log((left + right + 1) / (2n + 2))``: the log of a quantile kept inside (0, 1)."""
        t, twice, n = self._ranks(raw)
        return np.where(np.isneginf(t), -np.inf, np.log((twice + 1.0) / (2.0 * n + 2.0)))


def snr_weight(rho: float) -> float:
    """Returns ``ρ² / (1 − ρ²)`` with ρ clipped to [0, .999]: a member's weight under ``"snr"``.

    Example:
        >>> round(snr_weight(0.9), 3), snr_weight(-0.2)
        (4.263, 0.0)
    """
    r = min(max(float(rho), 0.0), 0.999) if math.isfinite(rho) else 0.0
    return r * r / (1.0 - r * r)


@dataclass
class LibraModel:
    """A fitted LIBRA combined proxy: the chosen members, why they were chosen, and how they are fused.

    Attributes:
        selected: The members ``[z1, z2, z3]`` (fewer when the window is small; see ``fallback``).
        members: One :class:`MemberTransform` per selected proxy.
        fusion: ``"rank"``, ``"logrank"`` or ``"zscore"`` (see the module docstring).
        weighting: ``"equal"`` or ``"snr"`` (member weights, see :attr:`weights`).
        spearman: ρ(proxy, accuracy) of every candidate proxy on the fit sample.
        information_gain: IG(z | z1) of every windowed proxy other than ``z1``.
        bias: ρ(proxy, #params) of every windowed proxy.
        target_bias: ρ(accuracy, #params), the bias that ``z3`` matches.
        window: The windowed proxies, best ρ first.
        window_width: The width of the ρ window (0.1 in the paper).
        bins: Histogram bins of the entropies (24).
        fallback: Why fewer than three members were chosen, or None.
        n_fit: Rows of the fit sample.
        target: Name of the accuracy column the model was fitted on (informational).

    Example:
        >>> import numpy as np
        >>> from lswag_plugin.libra import fit, LibraModel
        >>> acc = np.arange(50.0)
        >>> model = fit({"a": acc, "b": acc ** 2, "c": -acc}, acc, acc)
        >>> model.selected, model.fallback
        (['a', 'b'], 'window holds 2 proxies: fused z1, z2')
        >>> LibraModel.from_dict(model.to_dict()).score({"a": 10.0, "b": 100.0}) == model.score({"a": 10.0, "b": 100.0})
        True
    """

    selected: list[str]
    members: list[MemberTransform]
    fusion: str = "rank"
    weighting: str = "equal"
    spearman: dict[str, float] = field(default_factory=dict)
    information_gain: dict[str, float] = field(default_factory=dict)
    bias: dict[str, float] = field(default_factory=dict)
    target_bias: float = math.nan
    window: list[str] = field(default_factory=list)
    window_width: float = 0.1
    bins: int = 24
    fallback: str | None = None
    n_fit: int = 0
    target: str | None = None

    def __post_init__(self) -> None:
        if self.fusion not in FUSION_RULES:
            raise LibraError(f"unknown fusion rule {self.fusion!r}; choose one of {FUSION_RULES}")
        if self.weighting not in WEIGHTINGS:
            raise LibraError(f"unknown weighting {self.weighting!r}; choose one of {WEIGHTINGS}")
        if [m.name for m in self.members] != list(self.selected):
            raise LibraError("members must be the selected proxies, in order")

    @property
    def weights(self) -> list[float]:
        """The members' weights in the fused score (sum 1), from ``weighting`` and their fit ρ."""
        if self.weighting == "snr":
            raw = [snr_weight(self.spearman.get(n, math.nan)) for n in self.selected]
            total = sum(raw)
            if total > 0:
                return [w / total for w in raw]
        return [1.0 / len(self.selected)] * len(self.selected)

    def _terms(self, columns: Mapping[str, Any]) -> np.ndarray:
        missing = [n for n in self.selected if n not in columns]
        if missing:
            raise LibraError(
                f"LIBRA needs the scores of {', '.join(self.selected)}; missing: {', '.join(missing)}"
            )
        terms = []
        for m in self.members:
            raw = _as_float_array(columns[m.name], m.name)
            if self.fusion == "zscore":
                terms.append(m.zscore(raw))
            else:
                q = m.quantile(raw) if self.fusion == "rank" else m.log_quantile(raw)
                with np.errstate(invalid="ignore"):
                    terms.append(q + RANK_TIE_BREAK * m.zscore(raw))
        return np.stack(terms, axis=0)

    def score_table(self, columns: Mapping[str, Sequence[float] | np.ndarray]) -> np.ndarray:
        """Returns the fused score of each row of a table (column name → values); higher is better.

        Each row is scored on its own (fit-time statistics only): the result equals
        ``[self.score(row) for row in rows]``.
        """
        terms = self._terms(columns)
        weights = np.asarray(self.weights)[:, None]
        with np.errstate(invalid="ignore"):
            fused = (weights * terms).sum(axis=0)
        return np.where(np.isnan(fused), -np.inf, fused)

    def score(self, values: Mapping[str, float]) -> float:
        """Returns the fused score of one candidate from its members' raw scores; higher is better."""
        return float(self.score_table({n: [values[n]] for n in self.selected if n in values})[0])

    def to_dict(self) -> dict[str, Any]:
        """Returns a JSON-ready dict (see :meth:`from_dict`)."""
        out = asdict(self)
        out["format"] = MODEL_FORMAT
        out["members"] = [asdict(m) | {"reference": list(m.reference)} for m in self.members]
        return _json_safe(out)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LibraModel:
        """Returns the model serialised by :meth:`to_dict`.

        Raises:
            LibraError: The dict is not a LIBRA model of a known format.
        """
        if not isinstance(data, Mapping) or data.get("format") != MODEL_FORMAT:
            found = data.get("format") if isinstance(data, Mapping) else type(data).__name__
            raise LibraError(
                f"not a LIBRA model (format {found!r}, expected {MODEL_FORMAT!r}); "
                "create one with `lswag libra fit` or lswag_plugin.libra.fit(...).save(path)"
            )
        try:
            kwargs = {k: v for k, v in data.items() if k not in ("format", "members")}
            kwargs["target_bias"] = _from_json_float(kwargs.get("target_bias"))
            for key in ("spearman", "information_gain", "bias"):
                kwargs[key] = {k: _from_json_float(v) for k, v in kwargs.get(key, {}).items()}
            members = [
                MemberTransform(**(dict(m) | {"reference": tuple(m.get("reference", ()))}))
                for m in data["members"]
            ]
            return cls(members=members, **kwargs)
        except LibraError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise LibraError(
                f"damaged LIBRA model ({type(exc).__name__}: {exc}); re-create it with "
                "`lswag libra fit` or lswag_plugin.libra.fit(...).save(path)"
            ) from exc

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Writes the model as JSON to ``path``; returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return path

    def summary(self) -> dict[str, Any]:
        """Returns the choice and the numbers behind it (no fit-sample data)."""
        return {
            "selected": list(self.selected),
            "fusion": self.fusion,
            "weighting": self.weighting,
            "weights": dict(zip(self.selected, self.weights, strict=True)),
            "spearman": {n: self.spearman[n] for n in self.window},
            "information_gain": dict(self.information_gain),
            "bias": dict(self.bias),
            "target_bias": self.target_bias,
            "fallback": self.fallback,
            "n_fit": self.n_fit,
        }


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _from_json_float(value: Any) -> float:
    if value is None:
        return math.nan
    return float(value)


def load(path: str | os.PathLike[str]) -> LibraModel:
    """Returns the LIBRA model saved at ``path`` (by :meth:`LibraModel.save` or ``lswag libra fit``).

    Raises:
        LibraError: The file is missing, not JSON, or not a LIBRA model.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise LibraError(
            f"LIBRA model file {str(path)!r} not found; fit one with `lswag libra fit ... --out {path}`"
        ) from exc
    except ValueError as exc:  # JSONDecodeError, or UnicodeDecodeError for a binary file
        raise LibraError(f"LIBRA model file {str(path)!r} is not JSON: {exc}") from exc
    try:
        return LibraModel.from_dict(data)
    except LibraError as exc:
        raise LibraError(f"LIBRA model file {str(path)!r}: {exc}") from exc


def _direction_sign(name: str, directions: Mapping[str, str] | None) -> float:
    if directions is not None and name in directions:
        direction = directions[name]
    else:
        from lswag_plugin.errors import UnknownProxy
        from lswag_plugin.proxies import get_proxy

        try:
            direction = get_proxy(name).direction
        except UnknownProxy:
            direction = "max"
    if direction not in ("max", "min"):
        raise LibraError(f"direction of {name!r} must be 'max' or 'min', got {direction!r}")
    return 1.0 if direction == "max" else -1.0


def fit(
    scores: Mapping[str, Sequence[float] | np.ndarray],
    accuracy: Sequence[float] | np.ndarray,
    params: Sequence[float] | np.ndarray,
    *,
    window: float = 0.1,
    bins: int = 24,
    fusion: str = "logrank",
    weighting: str = "snr",
    directions: Mapping[str, str] | None = None,
    target: str | None = None,
) -> LibraModel:
    """Returns the LIBRA combined proxy fitted on a labelled sample (Algorithm 1 of the paper).

    Args:
        scores: Proxy name → its scores on the sample (one value per architecture, same order).
        accuracy: The architectures' accuracy (the target).
        params: Their parameter counts (any unit).
        window: Width of the ρ window below the best proxy (0.1 in the paper).
        bins: Histogram bins for the entropies (24, as in NAS-Bench-Suite-Zero).
        fusion: ``"logrank"`` (default), ``"rank"`` or ``"zscore"``; see the module docstring.
        weighting: ``"snr"`` (default) or ``"equal"`` member weights; see the module docstring.
        directions: Proxy name → ``"max"``/``"min"``; default: the registered proxy's direction, else max.
        target: Name of the accuracy column (stored for reference).

    Raises:
        LibraError: Empty table, columns of different lengths, fewer than 3 rows, bad arguments.

    Example:
        >>> import numpy as np
        >>> acc = np.linspace(0, 1, 30)
        >>> fit({"p": acc, "q": acc[::-1]}, acc, acc).selected
        ['p']
    """
    if not scores:
        raise LibraError("no proxy columns to choose from; pass at least one proxy's scores")
    if fusion not in FUSION_RULES:
        raise LibraError(f"unknown fusion rule {fusion!r}; choose one of {FUSION_RULES}")
    if weighting not in WEIGHTINGS:
        raise LibraError(f"unknown weighting {weighting!r}; choose one of {WEIGHTINGS}")
    if not 0 < window <= 2:
        raise LibraError(f"window must be in (0, 2], got {window}")
    if bins < 2:
        raise LibraError(f"bins must be >= 2, got {bins}")
    y = _as_float_array(accuracy, "accuracy")
    size = _as_float_array(params, "params")
    columns = {str(k): _as_float_array(v, str(k)) for k, v in scores.items()}
    n = len(y)
    bad = {k: len(v) for k, v in columns.items() if len(v) != n}
    if len(size) != n or bad:
        raise LibraError(
            f"every column must have one value per architecture ({n}); "
            f"params has {len(size)}, mismatched: {bad}"
        )
    if n < 3:
        raise LibraError(f"LIBRA needs at least 3 labelled architectures, got {n}")
    if not np.isfinite(y).all():
        raise LibraError("the accuracy column has NaN/inf values; drop those rows first")
    signs = {k: _direction_sign(k, directions) for k in columns}
    oriented = {k: signs[k] * _finite_or_lowest(v) for k, v in columns.items()}
    rho = {k: spearman(v, y) for k, v in oriented.items()}
    order = sorted(columns, key=lambda k: -rho[k])  # stable: ties keep column order
    z1 = order[0]
    best = rho[z1]
    windowed = [k for k in order if best - window < rho[k] <= best]
    ig = {k: information_gain(y, oriented[z1], oriented[k], bins=bins) for k in windowed[1:]}
    b = {k: bias(oriented[k], size) for k in windowed}
    b_val = bias(y, size)
    selected = [z1]
    if ig:
        z2 = min(windowed[1:], key=lambda k: ig[k])
        selected.append(z2)
        rest = [k for k in windowed[1:] if k != z2]
        if rest:
            selected.append(min(rest, key=lambda k: abs(b[k] - b_val)))
    fallback = None
    if len(selected) < 3:
        names = ", ".join(f"z{i + 1}" for i in range(len(selected)))
        fallback = f"window holds {len(windowed)} prox{'y' if len(windowed) == 1 else 'ies'}: fused {names}"
    members = [MemberTransform.from_sample(k, columns[k], sign=signs[k]) for k in selected]
    return LibraModel(
        selected=selected,
        members=members,
        fusion=fusion,
        weighting=weighting,
        spearman=rho,
        information_gain=ig,
        bias=b,
        target_bias=b_val,
        window=windowed,
        window_width=float(window),
        bins=int(bins),
        fallback=fallback,
        n_fit=n,
        target=target,
    )
