"""run_bench: an interrupted bench reports the rows scored so far."""

from __future__ import annotations

import numpy as np

from lswag_plugin.bench.run import run_bench
from lswag_plugin.engine import Scorer
from lswag_plugin.spaces import get_space


def test_an_interrupted_bench_returns_the_rows_scored_so_far(monkeypatch) -> None:
    space = get_space("nb201", channels=4, cells_per_stage=1)
    archs = [space.encode(space.sample(np.random.default_rng(s))) for s in range(5)]
    rows = [{"arch": a, "acc": float(i)} for i, a in enumerate(archs)]
    calls = []
    original = Scorer.score_archs

    def stop_at_the_fourth(self, batch, **kwargs):
        calls.append(batch)
        if len(calls) == 4:
            raise KeyboardInterrupt
        return original(self, batch, **kwargs)

    monkeypatch.setattr(Scorer, "score_archs", stop_at_the_fourth)
    result = run_bench(
        space, rows, arch_column="arch", target="acc", proxies="params", show_progress=False,
        device="cpu", batch_size=8, resolution=8,
    )  # fmt: skip
    assert result.interrupted and result.summary()["interrupted"]
    assert [r["arch"] for r in result.rows] == archs[:3]
    assert result.scored == 3
