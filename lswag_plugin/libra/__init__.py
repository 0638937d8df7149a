"""LIBRA-NAS (Casarin et al., CVPR 2025, Algorithm 1): pick three complementary proxies and fuse them.

Given a table of proxy scores for a labelled sample of architectures and each proxy's direction
(:func:`registry_directions` gives the registered proxies'), :func:`fit` selects

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

Options of :func:`fit` (defaults keep the paper's rule; docs/libra.md has the benchmark):
``reference=`` fits the members' quantiles on unlabelled scores (more rows than the labelled ones);
``entry="bootstrap"`` admits z2/z3 only if they raise ρ on the fit rows in a paired bootstrap
(``lswag_plugin.libra._entry``).

Fallback when the window holds fewer than three proxies: the model keeps the members the window holds
(``z1`` alone, or ``z1`` and ``z2``) and fuses those; it never reaches outside the window (proxies more
than ``window`` below ``z1`` in ρ are what the window exists to keep out). ``LibraModel.fallback`` says
when this happened.

Non-finite member scores (NWOT's −inf for a disconnected cell, NaN from a diverging model) make the
fused score −inf: such candidates rank lowest, never NaN. For the same reason the selection's
statistics (:func:`spearman`, :func:`information_gain`, :func:`bias`) are those of
:mod:`lswag_plugin.stats` with NaN counted as −inf (no row leaves the fit sample) and the undefined ρ of
a constant column counted as 0.

Layout: ``_model`` (:class:`LibraModel`, :class:`MemberTransform`, fusion, weights, JSON files),
``_fit`` (the selection, :func:`fit`), ``_entry`` (the member-entry rules), ``_proxy`` (the registered ``libra`` proxy, registered when
this package is imported).

Example:
    >>> import numpy as np
    >>> from lswag_plugin import libra
    >>> rng = np.random.default_rng(0)
    >>> acc = rng.normal(size=200)
    >>> params = acc + rng.normal(size=200)
    >>> table = {"good": acc + 0.1 * rng.normal(size=200), "noisy": acc + rng.normal(size=200),
    ...          "size": params, "junk": rng.normal(size=200)}
    >>> model = libra.fit(table, acc, params, window=0.5, directions=dict.fromkeys(table, "max"))
    >>> model.selected[0]
    'good'
    >>> strong = {"good": 1.0, "noisy": 0.5, "size": 0.2, "junk": 0.0}
    >>> weak = {"good": -1.0, "noisy": -0.5, "size": 0.2, "junk": 0.0}
    >>> model.score(strong) > model.score(weak)
    True
    >>> model.fusion, model.weighting, round(sum(model.weights), 6)
    ('logrank', 'snr', 1.0)
"""

from lswag_plugin.errors import LibraError
from lswag_plugin.libra._entry import ENTRY_RULES
from lswag_plugin.libra._fit import bias, fit, information_gain, registry_directions, spearman
from lswag_plugin.libra._model import (
    FUSION_RULES,
    MODEL_FORMAT,
    RANK_TIE_BREAK,
    WEIGHTINGS,
    LibraModel,
    MemberTransform,
    load,
    snr_weight,
)

# Importing _proxy registers the ``libra`` proxy.
from lswag_plugin.libra._proxy import LIBRA_MODEL_ENV, load_model, model_path

__all__ = [
    "ENTRY_RULES",
    "FUSION_RULES",
    "LIBRA_MODEL_ENV",
    "MODEL_FORMAT",
    "RANK_TIE_BREAK",
    "WEIGHTINGS",
    "LibraError",
    "LibraModel",
    "MemberTransform",
    "bias",
    "fit",
    "information_gain",
    "load",
    "load_model",
    "model_path",
    "registry_directions",
    "snr_weight",
    "spearman",
]
