"""The fitted LIBRA model: member transforms, fusion rules, member weights, JSON files.

A :class:`LibraModel` scores single candidates with statistics stored at fit time; :func:`load` reads
the file :meth:`LibraModel.save` wrote. :func:`lswag_plugin.libra.fit` creates one.
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

from lswag_plugin.errors import LibraError
from lswag_plugin.libra._entry import ENTRY_RULES
from lswag_plugin.output import from_json_float, json_safe

__all__ = [
    "FUSION_RULES",
    "MODEL_FORMAT",
    "RANK_TIE_BREAK",
    "WEIGHTINGS",
    "LibraModel",
    "MemberTransform",
    "load",
    "snr_weight",
]

#: Fusion rules a :class:`LibraModel` can use; each scores one candidate at a time.
FUSION_RULES = ("rank", "logrank", "zscore")
#: How the members' terms are weighted (see :mod:`lswag_plugin.libra`).
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


def _skew(x: np.ndarray) -> float:
    from scipy import stats  # on first use: importing lswag_plugin does not import scipy

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

    Example:
        >>> import numpy as np
        >>> m = MemberTransform.from_sample("nwot", np.array([1.0, 2.0, 3.0, 4.0]), sign=1.0)
        >>> m.quantile(np.array([2.0, 10.0, -np.inf])).tolist()  # mid-rank quantiles; −inf stays
        [0.375, 1.0, -inf]
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
        fusion: ``"rank"``, ``"logrank"`` or ``"zscore"`` (see :mod:`lswag_plugin.libra`).
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
        n_reference: Rows of the unlabelled reference the members' transforms were fitted on (None:
            the fit rows; see ``fit(reference=)``).
        entry: How z2 and z3 entered: ``"window"`` (the paper) or ``"bootstrap"`` (see ``fit(entry=)``).
        entry_level: The bootstrap level (None under ``"window"``).
        entry_resamples: The bootstrap resamples (None under ``"window"``).
        entry_seed: The bootstrap seed (None under ``"window"``).
        entry_support: Per tested member, the fraction of resamples in which it raised ρ.

    Example:
        >>> import numpy as np
        >>> from lswag_plugin.libra import fit, LibraModel
        >>> acc = np.arange(50.0)
        >>> table = {"a": acc, "b": acc ** 2, "c": -acc}
        >>> model = fit(table, acc, acc, directions=dict.fromkeys(table, "max"))
        >>> model.selected, model.fallback
        (['a', 'b'], 'window holds 2 proxies: fused z1, z2')
        >>> row = {"a": 10.0, "b": 100.0}
        >>> LibraModel.from_dict(model.to_dict()).score(row) == model.score(row)
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
    n_reference: int | None = None
    entry: str = "window"
    entry_level: float | None = None
    entry_resamples: int | None = None
    entry_seed: int | None = None
    entry_support: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.entry not in ENTRY_RULES:
            raise LibraError(f"unknown entry rule {self.entry!r}; choose one of {ENTRY_RULES}")
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
        for key, default in _OPTIONAL_DEFAULTS.items():
            if out[key] == default:  # a default model's file is what it was before these options
                del out[key]
        return json_safe(out)

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
            kwargs["target_bias"] = from_json_float(kwargs.get("target_bias"))
            for key in ("spearman", "information_gain", "bias"):
                kwargs[key] = {k: from_json_float(v) for k, v in kwargs.get(key, {}).items()}
            if "entry_support" in kwargs:
                kwargs["entry_support"] = {
                    k: from_json_float(v) for k, v in kwargs["entry_support"].items()
                }
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
        } | {
            key: getattr(self, key)
            for key, default in _OPTIONAL_DEFAULTS.items()
            if getattr(self, key) != default
        }


#: Fields written to a model file (and its summary) only when they differ from these defaults.
_OPTIONAL_DEFAULTS: dict[str, Any] = {
    "n_reference": None,
    "entry": "window",
    "entry_level": None,
    "entry_resamples": None,
    "entry_seed": None,
    "entry_support": {},
}


def load(path: str | os.PathLike[str]) -> LibraModel:
    """Returns the LIBRA model saved at ``path`` (by :meth:`LibraModel.save` or ``lswag libra fit``).

    Raises:
        LibraError: The file is missing, not JSON, or not a LIBRA model.

    Example:
        >>> import tempfile, pathlib
        >>> import numpy as np
        >>> from lswag_plugin.libra import fit
        >>> acc = np.arange(20.0)
        >>> model = fit({"a": acc}, acc, acc, directions={"a": "max"})
        >>> path = model.save(pathlib.Path(tempfile.mkdtemp()) / "libra.json")
        >>> load(path).score({"a": 3.0}) == model.score({"a": 3.0})
        True
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
