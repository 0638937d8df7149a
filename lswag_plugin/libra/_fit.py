"""LIBRA's selection (Algorithm 1 of the paper): z1 by ρ, z2 by information gain, z3 by size bias.

The statistics come from :mod:`lswag_plugin.stats`, with LIBRA's input rule: a NaN score becomes −inf
(a proxy that could not be computed ranks lowest; no row leaves the fit sample) and the undefined ρ of a
constant column counts as 0 (it carries no ranking). The proxies' directions are an argument:
:func:`registry_directions` gives the registered proxies' own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from lswag_plugin import stats
from lswag_plugin.engine.registry import available
from lswag_plugin.errors import LibraError
from lswag_plugin.libra._entry import ENTRY_RULES, bootstrap_rows, bootstrap_support
from lswag_plugin.libra._model import (
    FUSION_RULES,
    WEIGHTINGS,
    LibraModel,
    MemberTransform,
    _as_float_array,
    _finite_or_lowest,
)

__all__ = ["bias", "fit", "information_gain", "registry_directions", "spearman"]

ArrayLike = Sequence[float] | np.ndarray


def _lowest(values: ArrayLike) -> np.ndarray:
    return _finite_or_lowest(np.asarray(values, dtype=np.float64))


def spearman(a: ArrayLike, b: ArrayLike) -> float:
    """Returns Spearman's ρ as LIBRA ranks: NaN counts as −inf (lowest), a constant side gives 0.

    This is :func:`lswag_plugin.stats.spearman` after LIBRA's input rule (see the module docstring):
    no pair is dropped, and a constant column, whose ρ is undefined, counts as uncorrelated.

    Example:
        >>> round(spearman([1, 2, 3, 4], [10, 20, 40, 30]), 12)
        0.8
        >>> spearman([float("nan"), 2, 3], [1, 2, 3]), spearman([1, 1, 1], [1, 2, 3])
        (1.0, 0.0)
    """
    # ρ is symmetric; the arguments go in as (b, a) because np.corrcoef divides by the two standard
    # deviations in argument order: this order reproduces, bit for bit, the ρ of the models fitted
    # before lswag_plugin.stats existed (np.corrcoef(rank(a), rank(b))[0, 1]), so refits match them.
    rho = stats.spearman(_lowest(b), _lowest(a))
    return 0.0 if math.isnan(rho) else rho


def bias(scores: ArrayLike, params: ArrayLike) -> float:
    """Returns the size bias of a ranking: LIBRA's :func:`spearman` of the scores and #params.

    Example:
        >>> bias([0.1, 0.5, 0.2, 0.9], [1e5, 2e6, 3e5, 4e6])
        1.0
    """
    return spearman(scores, params)


def information_gain(
    target: ArrayLike, z1: ArrayLike, z: ArrayLike, *, bins: int = stats.DEFAULT_BINS
) -> float:
    """Returns IG(z) = H(y | z1) − H(y | z1, z) in bits (:func:`lswag_plugin.stats.information_gain`).

    NaN counts as −inf (the lowest bin), so no row is dropped.

    Example:
        >>> y = [1.0, 2.0, 3.0, 4.0]
        >>> information_gain(y, [1, 2, 1, 2], [1, 2, 1, 2], bins=2)  # a duplicate of z1
        0.0
        >>> information_gain(y, [1, 2, 1, 2], [1, 1, 2, 2], bins=2)  # z tells y's bin, z1 does not
        1.0
    """
    return stats.information_gain(_lowest(target), _lowest(z1), _lowest(z), bins=bins)


def registry_directions() -> dict[str, str]:
    """Returns proxy name → ``"max"``/``"min"`` for every registered proxy: :func:`fit`'s ``directions``.

    Example:
        >>> registry_directions()["nwot"]
        'max'
    """
    return {p.name: p.direction for p in available()}


def _signs(columns: Mapping[str, np.ndarray], directions: Mapping[str, str]) -> dict[str, float]:
    if not isinstance(directions, Mapping):
        raise LibraError(
            f"directions must map each proxy column to 'max' or 'min', got {type(directions).__name__}"
        )
    missing = [k for k in columns if k not in directions]
    if missing:
        raise LibraError(
            f"no direction for {', '.join(map(repr, missing))}: pass directions={{name: 'max' or "
            "'min'} for every proxy column; libra.registry_directions() gives the registered ones"
        )
    signs = {}
    for k in columns:
        if directions[k] not in ("max", "min"):
            raise LibraError(f"direction of {k!r} must be 'max' or 'min', got {directions[k]!r}")
        signs[k] = 1.0 if directions[k] == "max" else -1.0
    return signs


def fit(
    scores: Mapping[str, ArrayLike],
    accuracy: ArrayLike,
    params: ArrayLike,
    *,
    directions: Mapping[str, str],
    window: float = 0.1,
    bins: int = stats.DEFAULT_BINS,
    fusion: str = "logrank",
    weighting: str = "snr",
    target: str | None = None,
    reference: Mapping[str, ArrayLike] | None = None,
    entry: str = "window",
    entry_level: float = 0.9,
    entry_resamples: int = 200,
    entry_seed: int = 0,
) -> LibraModel:
    """Returns the LIBRA combined proxy fitted on a labelled sample (Algorithm 1 of the paper).

    Args:
        scores: Proxy name → its scores on the sample (one value per architecture, same order).
        accuracy: The architectures' accuracy (the target).
        params: Their parameter counts (any unit).
        directions: Proxy name → ``"max"`` (higher is better) or ``"min"``, for every column of
            ``scores`` (a ``"min"`` proxy is negated first); :func:`registry_directions` gives the
            registered proxies' directions.
        window: Width of the ρ window below the best proxy (0.1 in the paper).
        bins: Histogram bins for the entropies (24, as in NAS-Bench-Suite-Zero).
        fusion: ``"logrank"`` (default), ``"rank"`` or ``"zscore"``; see :mod:`lswag_plugin.libra`.
        weighting: ``"snr"`` (default) or ``"equal"`` member weights; see :mod:`lswag_plugin.libra`.
        target: Name of the accuracy column (stored for reference).
        reference: Unlabelled scores (proxy name → values, one per architecture, every column of
            ``scores``; e.g. all scored rows of the pool, or a random sample of the space): when
            given, each member's transform (log choice, mean, std and the sorted sample its quantiles
            are taken in) is fitted on these rows instead of the labelled fit rows. Scores need no
            labels, so the quantiles can rest on many more rows than the labelled ones. The selection
            (ρ, information gain, bias) always uses the labelled rows.
        entry: ``"window"`` (default, the paper): z2 and z3 enter when the window holds them.
            ``"bootstrap"``: each also needs to raise ρ on the fit rows in at least ``entry_level``
            of ``entry_resamples`` paired bootstrap resamples (see ``lswag_plugin.libra._entry``).
        entry_level: Fraction of resamples a member must win under ``"bootstrap"`` (in (0, 1]).
        entry_resamples: Bootstrap resamples under ``"bootstrap"`` (>= 1).
        entry_seed: Seed of the resamples under ``"bootstrap"``.

    Raises:
        LibraError: Empty table, columns of different lengths, fewer than 3 rows, a column without
            a direction, bad arguments (a reference without a column of ``scores``, an unknown
            ``entry`` rule, a level outside (0, 1]).

    Example:
        >>> import numpy as np
        >>> acc = np.linspace(0, 1, 30)
        >>> fit({"p": acc, "q": acc[::-1]}, acc, acc, directions={"p": "max", "q": "max"}).selected
        ['p']
        >>> fit({"p": acc, "q": acc[::-1]}, acc, acc, directions={"p": "max"})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        lswag_plugin.errors.LibraError: no direction for 'q': pass directions={name: 'max' or 'min'} ...
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
    if entry not in ENTRY_RULES:
        raise LibraError(f"unknown entry rule {entry!r}; choose one of {ENTRY_RULES}")
    if not 0 < entry_level <= 1:
        raise LibraError(f"entry_level must be in (0, 1], got {entry_level}")
    if isinstance(entry_resamples, bool) or not isinstance(entry_resamples, int | np.integer):
        raise LibraError(f"entry_resamples must be an integer >= 1, got {entry_resamples!r}")
    if entry_resamples < 1:
        raise LibraError(f"entry_resamples must be >= 1, got {entry_resamples}")
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
    signs = _signs(columns, directions)
    ref_columns = _reference_columns(reference, columns)
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
    source = columns if ref_columns is None else ref_columns
    transforms = {k: MemberTransform.from_sample(k, source[k], sign=signs[k]) for k in selected}
    support: dict[str, float] = {}
    if entry == "bootstrap" and len(selected) > 1:
        rows = bootstrap_rows(n, int(entry_resamples), int(entry_seed))
        accepted = [z1]
        for k in selected[1:]:
            current = _fused(accepted, transforms, fusion, weighting, rho, columns)
            trial = _fused([*accepted, k], transforms, fusion, weighting, rho, columns)
            support[k] = bootstrap_support(current, trial, y, rows)
            if support[k] >= entry_level:
                accepted.append(k)
        refused = [k for k in selected if k not in accepted]
        if refused:
            why = ", ".join(f"{k} ({support[k]:.2f} < {entry_level:g})" for k in refused)
            note = f"bootstrap refused {why}"
            fallback = note if fallback is None else f"{fallback}; {note}"
        selected = accepted
    return LibraModel(
        selected=selected,
        members=[transforms[k] for k in selected],
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
        n_reference=None if ref_columns is None else len(next(iter(ref_columns.values()))),
        entry=entry,
        entry_level=float(entry_level) if entry == "bootstrap" else None,
        entry_resamples=int(entry_resamples) if entry == "bootstrap" else None,
        entry_seed=int(entry_seed) if entry == "bootstrap" else None,
        entry_support=support,
    )


def _fused(
    names: list[str],
    transforms: Mapping[str, MemberTransform],
    fusion: str,
    weighting: str,
    rho: Mapping[str, float],
    columns: Mapping[str, np.ndarray],
) -> np.ndarray:
    """The fused score of the fit rows with the members ``names`` (as the final model would fuse them)."""
    model = LibraModel(
        selected=list(names),
        members=[transforms[k] for k in names],
        fusion=fusion,
        weighting=weighting,
        spearman=dict(rho),
    )
    return model.score_table(columns)


def _reference_columns(
    reference: Mapping[str, ArrayLike] | None, columns: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray] | None:
    """Returns the validated unlabelled reference columns (one per proxy column), or None."""
    if reference is None:
        return None
    if not isinstance(reference, Mapping):
        raise LibraError(
            "reference must map each proxy column to its unlabelled scores, got "
            f"{type(reference).__name__}"
        )
    missing = [k for k in columns if k not in reference]
    if missing:
        raise LibraError(
            f"reference has no column {', '.join(map(repr, missing))}: pass unlabelled scores for "
            "every proxy column of scores (e.g. every scored row of the pool), or reference=None"
        )
    ref = {k: _as_float_array(reference[k], f"reference[{k!r}]") for k in columns}
    lengths = {len(v) for v in ref.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise LibraError(
            "reference columns must be non-empty and of one length (one value per unlabelled "
            f"architecture), got lengths {sorted(lengths)}"
        )
    return ref
