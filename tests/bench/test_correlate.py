import math

import pytest

from lswag_plugin.bench.correlate import kendall, spearman
from lswag_plugin.bench.tables import Table, read_table


def test_spearman_and_kendall_exact():
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([4, 3, 2, 1], [10, 20, 30, 40]) == pytest.approx(-1.0)
    assert spearman([1, 3, 2, 4], [1, 2, 3, 4]) == pytest.approx(0.8)
    assert kendall([1, 3, 2, 4], [1, 2, 3, 4]) == pytest.approx(4 / 6)


def test_minus_inf_ranks_lowest_nan_is_dropped():
    assert spearman([float("-inf"), 1, 2, float("nan")], [0, 1, 2, 100]) == pytest.approx(1.0)
    assert math.isnan(spearman([1, 1, 1], [1, 2, 3]))


def test_tables_csv_and_json(tmp_path):
    (tmp_path / "t.csv").write_text("arch,acc\na,1\nb,\nc,3\n")
    t = read_table(tmp_path / "t.csv")
    rows, skipped = t.labelled("acc")
    assert skipped == 1 and [r["arch"] for r in rows] == ["a", "c"]
    (tmp_path / "t.json").write_text(
        '[{"arch": {"d": 1}, "acc": null}, {"arch": {"d": 2}, "acc": 0.5}]'
    )
    rows, skipped = read_table(tmp_path / "t.json").labelled("acc")
    assert skipped == 1 and rows[0]["arch"] == {"d": 2}
    assert Table.sample(list(range(10)), 3, 0) == Table.sample(list(range(10)), 3, 0)
