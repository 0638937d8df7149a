"""lswag_plugin.stats: exact values, the one NaN / ±inf / constant policy, the docstring examples."""

from __future__ import annotations

import doctest
import math
import warnings

import numpy as np
import pytest
from scipy.stats import entropy, kendalltau, spearmanr

from lswag_plugin import stats

NAN, INF = math.nan, math.inf


def test_spearman_and_kendall_exact_values():
    assert stats.spearman([1, 2, 3, 4], [10, 20, 30, 40]) == 1.0
    assert stats.spearman([4, 3, 2, 1], [10, 20, 30, 40]) == -1.0
    assert stats.spearman([1, 3, 2, 4], [1, 2, 3, 4]) == pytest.approx(0.8, abs=1e-15)
    # ties get mid-ranks: ranks (1.5, 1.5, 3, 4) against (1, 2, 3, 4)
    assert stats.spearman([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(3 / math.sqrt(10), abs=1e-15)
    assert stats.kendall([1, 3, 2, 4], [1, 2, 3, 4]) == pytest.approx(4 / 6, abs=1e-15)
    # τ-b: 5 concordant pairs, one tie in x: 5 / sqrt((6 − 1) · 6)
    assert stats.kendall([1, 1, 2, 3], [1, 2, 3, 4]) == pytest.approx(5 / math.sqrt(30), abs=1e-15)


def test_spearman_and_kendall_are_scipys_on_clean_data():
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(size=300), 1)
    y = x + rng.normal(size=300)
    assert stats.spearman(x, y) == float(spearmanr(x, y).statistic)
    assert stats.kendall(x, y) == float(kendalltau(x, y).statistic)
    assert stats.bias(x, y) == stats.spearman(x, y)


@pytest.mark.parametrize("fn", [stats.spearman, stats.kendall, stats.bias])
def test_nan_pairs_are_dropped_on_either_side(fn):
    x, y = [1.0, 2.0, 3.0, 4.0], [1.0, 3.0, 2.0, 4.0]
    assert fn([*x, NAN], [*y, 100.0]) == fn(x, y)
    assert fn([NAN, *x], [-100.0, *y]) == fn(x, y)
    assert fn([*x, 100.0], [*y, None]) == fn(x, y)  # None is NaN


@pytest.mark.parametrize("fn", [stats.spearman, stats.kendall])
def test_infinities_are_kept_as_the_extreme_ranks(fn):
    # NWOT's −inf for a disconnected cell is the lowest score, not a gap
    assert fn([-INF, 1, 2], [0, 1, 2]) == 1.0
    assert fn([-INF, 1, 2], [5, 1, 2]) == fn([-1e300, 1, 2], [5, 1, 2]) < 0
    assert fn([INF, 1, 2], [0, 1, 2]) == fn([1e300, 1, 2], [0, 1, 2])
    # two −inf tie with each other
    assert fn([-INF, -INF, 1], [1, 2, 3]) == fn([0, 0, 1], [1, 2, 3])


@pytest.mark.parametrize("fn", [stats.spearman, stats.kendall, stats.bias])
@pytest.mark.parametrize(
    ("x", "y"),
    [
        ([1, 1, 1], [1, 2, 3]),  # constant x
        ([1, 2, 3], [5, 5, 5]),  # constant y
        ([1, 2, NAN], [5, 5, 6]),  # constant once the NaN pair is dropped
        ([-INF, -INF, -INF], [1, 2, 3]),  # all −inf: one tie
        ([1, NAN], [1, 2]),  # one pair left
        ([NAN, NAN], [1, 2]),  # none left
        ([], []),
    ],
)
def test_undefined_is_nan_without_warnings(fn, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isnan(fn(x, y))


def test_two_pairs_are_enough_and_warn_nothing():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert stats.spearman([1, 2], [3, 5]) == pytest.approx(1.0, abs=1e-15)
        assert stats.kendall([1, 2], [5, 3]) == -1.0


@pytest.mark.parametrize("fn", [stats.spearman, stats.kendall])
def test_lengths_must_agree(fn):
    with pytest.raises(ValueError, match="one value per row"):
        fn([1, 2, 3], [1, 2])


def test_information_gain_exact_values():
    y = [1.0, 2.0, 3.0, 4.0]
    assert stats.information_gain(y, [1, 2, 1, 2], [1, 2, 1, 2], bins=2) == 0.0  # a copy of z1
    assert stats.information_gain(y, [1, 2, 1, 2], [1, 1, 2, 2], bins=2) == 1.0  # tells y's bin
    # H(y | z1) − H(y | z1, z) from the joint histograms' counts (scipy.stats.entropy, bits)
    rng = np.random.default_rng(1)
    y, z1, z = rng.normal(size=(3, 200))
    bins = [np.clip(np.digitize(v, np.histogram_bin_edges(v, 24)[1:-1]), 0, 23) for v in (y, z1, z)]

    def h(*cols):
        return entropy(np.unique(np.stack(cols, axis=1), axis=0, return_counts=True)[1], base=2)

    expected = (h(bins[0], bins[1]) - h(bins[1])) - (h(*bins) - h(bins[1], bins[2]))
    assert stats.information_gain(y, z1, z) == pytest.approx(expected, abs=1e-12)
    assert stats.information_gain(y, z1, z) == stats.information_gain(y, z1, z, bins=24)
    assert stats.information_gain(y, z1, z) != stats.information_gain(y, z1, z, bins=4)
    assert stats.information_gain(y, z1, z1) == 0.0


def test_information_gain_drops_nan_rows_and_bins_infinities_at_the_ends():
    rng = np.random.default_rng(2)
    y, z1, z = rng.normal(size=(3, 100))
    base = stats.information_gain(y, z1, z)
    for col in range(3):  # a row with a NaN anywhere is left out
        cols = [np.append(v, 0.5) for v in (y, z1, z)]
        cols[col][-1] = NAN
        assert stats.information_gain(*cols) == base
    low, high = z.copy(), z.copy()
    low[0], high[0] = -INF, INF
    at_min, at_max = z.copy(), z.copy()
    at_min[0], at_max[0] = np.delete(z, 0).min(), np.delete(z, 0).max()
    assert stats.information_gain(y, z1, low) == stats.information_gain(y, z1, at_min)
    assert stats.information_gain(y, z1, high) == stats.information_gain(y, z1, at_max)


def test_information_gain_undefined_and_bad_bins():
    assert math.isnan(stats.information_gain([1.0, NAN], [1.0, 2.0], [1.0, 2.0]))
    assert stats.information_gain([1.0, 2.0, 3.0], [5.0, 5.0, 5.0], [1.0, 2.0, 3.0], bins=3) > 0
    with pytest.raises(ValueError, match="bins"):
        stats.information_gain([1.0, 2.0], [1.0, 2.0], [1.0, 2.0], bins=1)
    with pytest.raises(ValueError, match="one value per row"):
        stats.information_gain([1.0, 2.0], [1.0, 2.0], [1.0])


def test_docstring_examples():
    result = doctest.testmod(stats)
    assert result.attempted >= 10 and result.failed == 0
