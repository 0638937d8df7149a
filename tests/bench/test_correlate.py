"""Correlating a benchmark: labelled rows of a table, and the ρ/τ the bench reports (lswag_plugin.stats)."""

import math

from lswag_plugin import stats
from lswag_plugin.bench import run
from lswag_plugin.bench.tables import Table, read_table


def test_bench_correlates_with_lswag_plugin_stats():
    # one implementation: the bench's ρ/τ are lswag_plugin.stats' (its NaN policy), nothing local
    assert run.spearman is stats.spearman and run.kendall is stats.kendall
    # NWOT's −inf (a disconnected cell) ranks last; a score that could not be computed is dropped
    nwot = [-math.inf, 1.0, 2.0, math.nan]
    assert run.spearman(nwot, [0.1, 0.5, 0.9, 0.95]) == 1.0
    assert run.kendall(nwot, [0.1, 0.5, 0.9, 0.95]) == 1.0
    assert math.isnan(run.spearman([3.0, 3.0, 3.0], [0.1, 0.5, 0.9]))


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


def test_sample_of_all_rows_is_a_seeded_shuffle():
    rows = list(range(50))
    every = Table.sample(rows, 50, 0)
    assert sorted(every) == rows and every != rows
    assert Table.sample(rows, 80, 0) == every  # more than the rows: still every row, once
    assert Table.sample(rows, None, 0) == rows  # no sample: table order
