"""LIBRA-NAS: selection on synthetic tables with known answers, fusion, serialisation, the libra proxy."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

import lswag_plugin
from lswag_plugin import libra
from lswag_plugin.libra import LibraError


def MAX(table) -> dict[str, str]:
    """Every column of ``table`` is higher-is-better."""
    return dict.fromkeys(table, "max")


def _table(n: int = 400, seed: int = 0) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = rng.normal(size=n)
    params = acc + 1.5 * rng.normal(size=n)  # accuracy's size bias ≈ .5
    table = {
        "best": acc + 0.2 * rng.normal(size=n),  # accuracy plus noise: z1
        "copy": None,  # a duplicate of z1: zero information gain → z2
        "sizeish": acc + 0.3 * rng.normal(size=n) + 0.3 * params,  # close bias to accuracy's
        "unbiased": acc + 0.3 * rng.normal(size=n) - 0.2 * params,  # bias far from accuracy's
        "weak": acc + 3.0 * rng.normal(size=n),  # outside the window
    }
    table["copy"] = table["best"].copy()
    return table, acc, params


def test_fit_known_answer_z1_z2_z3():
    table, acc, params = _table()
    model = libra.fit(table, acc, params, window=0.3, directions=MAX(table))
    assert model.selected[0] == "best"
    assert model.information_gain["copy"] == 0.0
    assert model.selected[1] == "copy"
    assert model.selected[2] == "sizeish"
    assert "weak" not in model.window
    assert abs(model.bias["sizeish"] - model.target_bias) < abs(
        model.bias["unbiased"] - model.target_bias
    )
    assert model.fallback is None
    assert model.spearman["best"] == pytest.approx(libra.spearman(table["best"], acc))


def test_fit_takes_directions_as_an_argument():
    table, acc, params = _table()
    with pytest.raises(TypeError, match="directions"):
        libra.fit(table, acc, params)  # type: ignore[call-arg]
    with pytest.raises(LibraError, match="no direction for 'copy', 'weak'"):
        libra.fit(
            table, acc, params, directions={"best": "max", "sizeish": "max", "unbiased": "max"}
        )


def test_registry_directions_are_the_registered_proxies():
    directions = libra.registry_directions()
    assert directions == {p.name: p.direction for p in lswag_plugin.available_proxies()}
    assert directions["nwot"] == "max" and "libra" in directions


def test_libra_spearman_ranks_nan_lowest_and_keeps_the_bits_of_pearson_on_ranks():
    from scipy.stats import rankdata

    from lswag_plugin import stats

    # NaN is the lowest score (LIBRA), not a dropped pair (lswag_plugin.stats)
    assert libra.spearman([math.nan, 1, 2], [3, 1, 2]) == pytest.approx(-0.5)
    assert stats.spearman([math.nan, 1, 2], [3, 1, 2]) == pytest.approx(1.0)
    # a constant column carries no ranking: 0, where stats says undefined
    assert libra.spearman([1, 1, 1], [1, 2, 3]) == 0.0 == libra.bias([2, 2, 2], [1, 2, 3])
    assert math.isnan(stats.spearman([1, 1, 1], [1, 2, 3]))
    # bit for bit the ρ of the models fitted before stats.py: Pearson's r of the mid-ranks
    rng = np.random.default_rng(11)
    for n in (5, 37, 400, 2000):
        a = np.round(rng.normal(size=n), 1)
        b = a + rng.normal(size=n)
        a[:3] = [math.nan, -math.inf, math.inf]
        low = np.where(np.isnan(a), -np.inf, a)
        assert libra.spearman(a, b) == float(np.corrcoef(rankdata(low), rankdata(b))[0, 1])


def test_importing_libra_registers_the_proxy_in_a_fresh_interpreter():
    code = (
        "import sys, lswag_plugin.libra as l; from lswag_plugin.engine.registry import get_proxy; "
        "print(get_proxy('libra').direction, 'scipy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["max", "False"]  # scipy is imported on first fit, not on import
    code = "import lswag_plugin.proxies.lswag, lswag_plugin.proxies as p; print(p.get_proxy('libra').name)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "libra"


def test_information_gain_duplicate_is_exactly_zero_and_informative_is_positive():
    rng = np.random.default_rng(1)
    y = rng.normal(size=300)
    z1 = y + rng.normal(size=300)
    assert libra.information_gain(y, z1, z1) == 0.0
    assert libra.information_gain(y, z1, y) > 0.5
    # 24 bins by default: the same as passing bins=24 explicitly, different from 4 bins
    assert libra.information_gain(y, z1, y) == libra.information_gain(y, z1, y, bins=24)
    assert libra.information_gain(y, z1, y) != libra.information_gain(y, z1, y, bins=4)


def test_lowest_ig_is_chosen_not_highest():
    rng = np.random.default_rng(2)
    y = rng.normal(size=500)
    z1 = y + 0.3 * rng.normal(size=500)
    table = {
        "z1": z1,
        "dup": z1 + 1e-9 * rng.normal(size=500),
        "other": y + 0.35 * rng.normal(size=500),
    }
    model = libra.fit(table, y, y, window=0.5, directions=MAX(table))
    assert model.information_gain["dup"] < model.information_gain["other"]
    assert model.selected[1] == "dup"


def test_min_direction_proxies_are_negated():
    table, acc, params = _table()
    flipped = {k: -v for k, v in table.items()}
    model = libra.fit(flipped, acc, params, window=0.3, directions=dict.fromkeys(flipped, "min"))
    assert model.selected == ["best", "copy", "sizeish"]
    assert all(m.sign == -1.0 for m in model.members)
    ref = libra.fit(table, acc, params, window=0.3, directions=MAX(table))
    np.testing.assert_allclose(model.score_table(flipped), ref.score_table(table))


@pytest.mark.parametrize(
    ("table", "expected", "fallback"),
    [
        ({"a": [1, 2, 3, 4, 5.0]}, ["a"], "window holds 1 proxy: fused z1"),
        (
            {"a": [1, 2, 3, 4, 5.0], "b": [1, 2, 3, 5, 4.0], "c": [5, 4, 3, 2, 1.0]},
            ["a", "b"],
            "window holds 2 proxies: fused z1, z2",
        ),
    ],
)
def test_small_window_fallback_keeps_what_the_window_holds(table, expected, fallback):
    acc = np.arange(5.0)
    model = libra.fit(table, acc, acc, window=0.3, directions=MAX(table))
    assert model.selected == expected
    assert model.fallback == fallback
    assert np.isfinite(model.score_table(table)).all()


@pytest.mark.parametrize("fusion", libra.FUSION_RULES)
def test_streaming_score_equals_table_score(fusion):
    table, acc, params = _table()
    model = libra.fit(table, acc, params, window=0.3, fusion=fusion, directions=MAX(table))
    fused = model.score_table(table)
    one_by_one = np.array(
        [model.score({k: float(v[i]) for k, v in table.items()}) for i in range(len(acc))]
    )
    np.testing.assert_array_equal(fused, one_by_one)
    assert libra.spearman(fused, acc) > libra.spearman(table["weak"], acc)


def test_rank_rule_is_mid_rank_quantile_of_fit_sample():
    acc = np.arange(10.0)
    model = libra.fit({"a": acc}, acc, acc, fusion="rank", directions={"a": "max"})
    # 4.0 sits at rank 5 of 10 (mid-rank of one tie): (4 + 5) / 2 / 10
    assert model.score({"a": 4.0}) == pytest.approx(0.45, abs=1e-8)
    assert model.score({"a": -100.0}) == pytest.approx(0.0, abs=1e-6)
    assert model.score({"a": 100.0}) == pytest.approx(1.0, abs=1e-6)
    # beyond the fit sample every quantile is 1: the z-score breaks the tie, the order is kept
    assert model.score({"a": 100.0}) > model.score({"a": 50.0}) > model.score({"a": 9.5})
    assert model.score({"a": 4.5}) > model.score({"a": 4.0})


def test_logrank_rule_is_log_of_a_quantile_kept_inside_zero_one():
    acc = np.arange(10.0)
    model = libra.fit({"a": acc}, acc, acc, fusion="logrank", directions={"a": "max"})
    # 4.0: left 4 + right 5 = 9 → log((9 + 1) / (2·10 + 2))
    assert model.score({"a": 4.0}) == pytest.approx(math.log(10 / 22), abs=1e-8)
    assert model.score({"a": -100.0}) == pytest.approx(math.log(1 / 22), abs=1e-6)
    assert model.score({"a": 100.0}) == pytest.approx(math.log(21 / 22), abs=1e-6)
    assert model.score({"a": 100.0}) > model.score({"a": 50.0}) > model.score({"a": 9.5})


def test_snr_weights_follow_the_fit_rho_and_equal_weights_are_the_mean():
    table, acc, params = _table()
    kwargs = {"window": 0.3, "fusion": "rank", "directions": MAX(table)}
    snr = libra.fit(table, acc, params, weighting="snr", **kwargs)
    equal = libra.fit(table, acc, params, weighting="equal", **kwargs)
    assert snr.selected == equal.selected == ["best", "copy", "sizeish"]
    raw = [libra.snr_weight(snr.spearman[n]) for n in snr.selected]
    assert snr.weights == pytest.approx([w / sum(raw) for w in raw])
    assert snr.weights[0] == snr.weights[1] > snr.weights[2]  # a copy of z1 has z1's ρ
    assert equal.weights == [1 / 3] * 3
    row = {k: float(v[7]) for k, v in table.items()}
    quantiles = [float(m.quantile(np.array([row[m.name]]))[0]) for m in snr.members]
    assert snr.score(row) == pytest.approx(float(np.dot(snr.weights, quantiles)), abs=1e-6)
    assert equal.score(row) == pytest.approx(float(np.mean(quantiles)), abs=1e-6)
    assert libra.snr_weight(0.5) == pytest.approx(1 / 3)
    assert libra.snr_weight(math.nan) == libra.snr_weight(-0.4) == 0.0


def test_snr_weighting_keeps_a_dominant_member_dominant():
    rng = np.random.default_rng(5)
    acc = rng.normal(size=600)
    table = {"strong": acc + 0.3 * rng.normal(size=600), "weak": acc + 1.0 * rng.normal(size=600)}
    kwargs = {"window": 0.5, "fusion": "rank", "directions": MAX(table)}
    snr = libra.fit(table, acc, acc, weighting="snr", **kwargs)
    equal = libra.fit(table, acc, acc, weighting="equal", **kwargs)
    assert snr.selected == ["strong", "weak"]
    rho = {m.weighting: libra.spearman(m.score_table(table), acc) for m in (snr, equal)}
    assert rho["snr"] > rho["equal"]


def test_zscore_rule_uses_fit_statistics_and_log_for_heavy_tails():
    rng = np.random.default_rng(3)
    acc = rng.normal(size=200)
    heavy = np.exp(3 * acc + rng.normal(size=200))  # log-normal: heavy-tailed
    model = libra.fit({"heavy": heavy}, acc, acc, fusion="zscore", directions={"heavy": "max"})
    member = model.members[0]
    assert member.log
    t = np.log1p(heavy)
    assert model.score({"heavy": float(heavy[0])}) == pytest.approx((t[0] - t.mean()) / t.std())


def test_non_finite_members_rank_lowest_never_nan():
    table, acc, params = _table()
    model = libra.fit(table, acc, params, window=0.3, directions=MAX(table))
    row = {k: float(v[0]) for k, v in table.items()}
    assert model.score(row | {"best": -math.inf}) == -math.inf
    assert model.score(row | {"copy": math.nan}) == -math.inf


def test_serialisation_round_trip(tmp_path):
    table, acc, params = _table()
    for fusion in libra.FUSION_RULES:
        for weighting in libra.WEIGHTINGS:
            model = libra.fit(
                table,
                acc,
                params,
                window=0.3,
                fusion=fusion,
                weighting=weighting,
                directions=MAX(table),
                target="acc",
            )
            path = model.save(tmp_path / f"{fusion}_{weighting}.json")
            loaded = libra.load(path)
            assert loaded.selected == model.selected
            assert loaded.summary() == model.summary()
            np.testing.assert_array_equal(loaded.score_table(table), model.score_table(table))
            assert json.loads(path.read_text())["format"] == "lswag-libra/1"


def test_model_files_without_weighting_load_with_equal_weights(tmp_path):
    table, acc, params = _table()
    model = libra.fit(
        table, acc, params, window=0.3, fusion="rank", weighting="equal", directions=MAX(table)
    )
    data = model.to_dict()
    del data["weighting"]  # files written before weightings existed
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    np.testing.assert_array_equal(libra.load(path).score_table(table), model.score_table(table))


def test_cli_choices_match_the_library():
    from lswag_plugin.cli import libra as cli

    assert sorted(cli.FUSION_CHOICES) == sorted(libra.FUSION_RULES)
    assert sorted(cli.WEIGHTING_CHOICES) == sorted(libra.WEIGHTINGS)


def test_load_errors_name_the_fix(tmp_path):
    with pytest.raises(LibraError, match="lswag libra fit"):
        libra.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(LibraError, match="not a LIBRA model"):
        libra.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scores": {}}, "no proxy columns"),
        ({"scores": {"a": [1.0, 2.0]}, "accuracy": [1.0, 2.0], "params": [1.0, 2.0]}, "at least 3"),
        ({"scores": {"a": [1.0, 2.0, 3.0]}, "params": [1.0]}, "one value per architecture"),
        ({"fusion": "median"}, "unknown fusion"),
        ({"weighting": "rho"}, "unknown weighting"),
        ({"window": 0.0}, "window"),
        ({"accuracy": [1.0, math.nan, 3.0]}, "NaN"),
        ({"directions": {}}, "no direction for 'a'.*registry_directions"),
        (
            {"directions": {"a": "max", "x": "min"}, "scores": {"a": [1, 2, 3], "b": [3, 2, 1.0]}},
            "'b'",
        ),
        ({"directions": {"a": "up"}}, "direction of 'a' must be 'max' or 'min'"),
        ({"directions": ["a"]}, "directions must map"),
    ],
)
def test_fit_rejects_bad_input(kwargs, match):
    args = {
        "scores": {"a": [1.0, 2.0, 3.0]},
        "accuracy": [1.0, 2.0, 3.0],
        "params": [1.0, 2.0, 3.0],
        "directions": {"a": "max"},
    }
    args.update(kwargs)
    with pytest.raises(LibraError, match=match):
        libra.fit(args.pop("scores"), args.pop("accuracy"), args.pop("params"), **args)


def test_score_names_missing_members():
    acc = np.arange(10.0)
    model = libra.fit({"a": acc, "b": acc}, acc, acc, directions={"a": "max", "b": "max"})
    with pytest.raises(LibraError, match="missing: b"):
        model.score({"a": 1.0})


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 4),
    )


@pytest.fixture()
def fitted_model_path(tmp_path):
    rng = np.random.default_rng(0)
    acc = rng.normal(size=60)
    table = {
        "zico": acc + 0.1 * rng.normal(size=60),
        "nwot": acc + 0.2 * rng.normal(size=60),
        "params": acc + 0.3 * rng.normal(size=60),
    }
    model = libra.fit(table, acc, acc, window=0.5, directions=libra.registry_directions())
    assert model.selected and set(model.selected) == set(table)
    return model, model.save(tmp_path / "libra.json")


def test_libra_proxy_equals_model_score_of_engine_members(fitted_model_path):
    model, path = fitted_model_path
    x, y = torch.randn(16, 3, 8, 8), torch.arange(16) % 4
    s = lswag_plugin.score(
        _net(), (x, y), "libra", device="cpu", options={"libra": {"model": str(path)}}
    )
    members = lswag_plugin.score(_net(), (x, y), ",".join(model.selected), device="cpu")
    assert set(s) == {"libra"}
    assert s.directions["libra"] == "max"
    assert {n: s.components[n] for n in model.selected} == dict(members)
    assert s["libra"] == model.score(dict(members))


def test_libra_proxy_reads_env_and_names_the_fix_without_model(fitted_model_path, monkeypatch):
    _, path = fitted_model_path
    x, y = torch.randn(16, 3, 8, 8), torch.arange(16) % 4
    monkeypatch.delenv("LSWAG_LIBRA_MODEL", raising=False)
    with pytest.raises(LibraError, match="LSWAG_LIBRA_MODEL"):
        lswag_plugin.score(_net(), (x, y), "libra", device="cpu")
    monkeypatch.setenv("LSWAG_LIBRA_MODEL", str(path))
    s = lswag_plugin.score(_net(), (x, y), "libra,zico", device="cpu")
    assert math.isfinite(s["libra"])


def test_libra_is_not_part_of_all():
    from lswag_plugin.proxies import resolve_names

    assert "libra" not in resolve_names("all")
    assert "libra" in [p.name for p in lswag_plugin.available_proxies()]


@pytest.mark.data
def test_fit_on_published_naslib_scores(data_dir):
    """LIBRA on NAS-Bench-Suite-Zero's NB201 CIFAR-10 scores: fitted on all rows it picks nwot first."""
    raw = json.loads((data_dir / "nb201" / "naslib_zc_nasbench201.json").read_text())["cifar10"]
    keys = sorted(raw)
    names = ("synflow", "grasp", "fisher", "grad_norm", "l2_norm", "nwot", "jacov", "snip")
    table = {p: np.array([raw[k][p]["score"] for k in keys]) for p in names}
    acc = np.array([raw[k]["val_accuracy"] for k in keys])
    params = np.array([raw[k]["params"]["score"] for k in keys])
    model = libra.fit(table, acc, params, directions=dict.fromkeys(names, "max"))
    assert model.selected[0] == "nwot"
    assert len(model.selected) == 3
    assert libra.spearman(model.score_table(table), acc) > model.spearman["nwot"]


# --- fit options: entry="bootstrap" and reference= -------------------------------------------------


def _twins(n: int = 60, seed: int = 1) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(seed)
    acc = rng.normal(size=n)
    table = {
        "best": acc + 0.3 * rng.normal(size=n),
        "junk": rng.normal(size=n),  # ρ < 0: snr weight 0, fusing it changes nothing
        "twin": acc + 0.3 * rng.normal(size=n),  # independent noise: fusing it helps
    }
    return table, acc


def test_bootstrap_refuses_a_duplicate_member_and_keeps_a_helpful_one():
    table, acc, params = _table()
    window = libra.fit(table, acc, params, window=0.3, directions=MAX(table))
    model = libra.fit(table, acc, params, window=0.3, directions=MAX(table), entry="bootstrap")
    assert window.selected == ["best", "copy", "sizeish"]
    # The duplicate of z1 ranks the rows exactly as z1: it raises ρ in no resample.
    assert model.entry_support == {"copy": 0.0, "sizeish": 1.0}
    assert model.selected == ["best", "sizeish"]
    assert model.fallback == "bootstrap refused copy (0.00 < 0.9)"
    assert (model.entry, model.entry_level, model.entry_resamples, model.entry_seed) == (
        "bootstrap",
        0.9,
        200,
        0,
    )
    # Selection statistics are those of the window rule; only the members differ.
    assert model.window == window.window and model.information_gain == window.information_gain


def test_bootstrap_refuses_a_useless_member_that_the_window_admits():
    table, acc = _twins()
    window = libra.fit(table, acc, acc, window=2.0, directions=MAX(table))
    model = libra.fit(table, acc, acc, window=2.0, directions=MAX(table), entry="bootstrap")
    assert window.selected == ["best", "twin", "junk"] and window.fallback is None
    assert model.selected == ["best", "twin"]
    assert model.entry_support == {"twin": 0.975, "junk": 0.0}
    assert model.fallback == "bootstrap refused junk (0.00 < 0.9)"
    # A stricter level than twin's support refuses it too: LIBRA falls back to z1 alone.
    alone = libra.fit(
        table, acc, acc, window=2.0, directions=MAX(table), entry="bootstrap", entry_level=0.98
    )
    assert alone.selected == ["best"]
    np.testing.assert_array_equal(
        alone.score_table(table),
        libra.fit({"best": table["best"]}, acc, acc, directions={"best": "max"}).score_table(table),
    )


def test_bootstrap_support_counts_strict_improvements_on_paired_resamples():
    from lswag_plugin.libra._entry import bootstrap_rows, bootstrap_support

    y = np.arange(12.0)
    rows = bootstrap_rows(12, 40, 3)
    assert rows.shape == (40, 12) and rows.min() >= 0 and rows.max() < 12
    np.testing.assert_array_equal(rows, bootstrap_rows(12, 40, 3))
    assert bootstrap_support(-y, y, y, rows) == 1.0
    assert bootstrap_support(y, -y, y, rows) == 0.0
    assert bootstrap_support(y, y.copy(), y, rows) == 0.0  # equal ρ is not a gain


def test_default_fit_is_the_window_rule_and_its_file_has_no_new_keys():
    table, acc, params = _table()
    model = libra.fit(table, acc, params, window=0.3, directions=MAX(table))
    explicit = libra.fit(
        table, acc, params, window=0.3, directions=MAX(table), entry="window", reference=None
    )
    assert model.to_dict() == explicit.to_dict()
    keys = set(model.to_dict())
    assert not keys & {"n_reference", "entry", "entry_level", "entry_resamples", "entry_seed"}
    assert "entry_support" not in keys and "entry" not in model.summary()


def test_reference_fits_the_quantiles_on_unlabelled_rows():
    table, acc, params = _table(n=400)
    fit_rows = np.arange(40)
    labelled = {k: v[fit_rows] for k, v in table.items()}
    plain = libra.fit(labelled, acc[fit_rows], params[fit_rows], window=0.3, directions=MAX(table))
    model = libra.fit(
        labelled,
        acc[fit_rows],
        params[fit_rows],
        window=0.3,
        directions=MAX(table),
        reference=table,
    )
    # The selection uses the labelled rows only; the transforms use all 400 unlabelled rows.
    assert model.selected == plain.selected and model.spearman == plain.spearman
    assert model.n_reference == 400 and plain.n_reference is None
    best = model.members[0]
    assert len(best.reference) == 400 and len(plain.members[0].reference) == 40
    assert best.reference == tuple(np.sort(table["best"]))
    # A candidate above every fit row saturates the fit-row quantile but not the reference's.
    top = float(np.sort(table["best"])[-3])
    assert plain.members[0].quantile(np.array([top]))[0] == 1.0
    assert best.quantile(np.array([top]))[0] == pytest.approx(1 - 2.5 / 400)
    assert model.score({k: float(v[0]) for k, v in table.items()}) != plain.score(
        {k: float(v[0]) for k, v in table.items()}
    )


def test_options_survive_the_file_round_trip(tmp_path):
    table, acc, params = _table()
    model = libra.fit(
        {k: v[:80] for k, v in table.items()},
        acc[:80],
        params[:80],
        window=0.3,
        directions=MAX(table),
        reference=table,
        entry="bootstrap",
        entry_level=0.8,
        entry_resamples=50,
        entry_seed=7,
    )
    loaded = libra.load(model.save(tmp_path / "libra.json"))
    assert loaded == model
    assert loaded.summary()["entry_support"] == model.entry_support
    assert (loaded.entry_level, loaded.entry_resamples, loaded.entry_seed) == (0.8, 50, 7)
    assert loaded.n_reference == 400
    np.testing.assert_array_equal(loaded.score_table(table), model.score_table(table))
    bad = model.to_dict() | {"entry": "vote"}
    with pytest.raises(LibraError, match="unknown entry rule 'vote'"):
        libra.LibraModel.from_dict(bad)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"entry": "vote"}, r"unknown entry rule 'vote'; choose one of \('window', 'bootstrap'\)"),
        ({"entry_level": 0.0}, r"entry_level must be in \(0, 1\]"),
        ({"entry_level": 1.5}, r"entry_level must be in \(0, 1\]"),
        ({"entry_resamples": 0}, "entry_resamples must be >= 1"),
        ({"entry_resamples": 2.5}, "entry_resamples must be an integer"),
        ({"reference": [1.0, 2.0]}, "reference must map each proxy column"),
        ({"reference": {"b": [1.0]}}, "reference has no column 'a'.*reference=None"),
        (
            {
                "reference": {"a": [1.0, 2.0], "b": [1.0]},
                "scores": {"a": [1.0, 2, 3], "b": [3.0, 2, 1]},
            },
            "one length",
        ),
        ({"reference": {"a": []}}, "non-empty"),
        ({"reference": {"a": ["x"]}}, "not numeric"),
    ],
)
def test_fit_rejects_bad_options(kwargs, match):
    args = {
        "scores": {"a": [1.0, 2.0, 3.0]},
        "accuracy": [1.0, 2.0, 3.0],
        "params": [1.0, 2.0, 3.0],
    }
    args.update(kwargs)
    scores = args.pop("scores")
    with pytest.raises(LibraError, match=match):
        libra.fit(scores, args.pop("accuracy"), args.pop("params"), directions=MAX(scores), **args)
