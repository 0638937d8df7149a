"""The fixed cost of a score on the CPU: ``lswag`` on a tiny network against one plain forward+backward.

The network is NAS-Bench-201 with 4 channels and one cell per stage, the batch 8 images of 8×8, one
torch thread: the arithmetic is negligible, so what is measured is the per-call cost of scoring (the
private copy, hooks, per-layer statistics, seeding). Timed, interleaved, ``--repeats`` rounds of
``--calls`` calls each; the median per call is reported:

- ``plain``: one forward+backward (cross-entropy, train mode) of the same model and batch;
- ``plain_two_halves``: two of them on the two halves of the batch: what the default K = 2 minibatches
  cost at least, with nothing of the scoring around them;
- ``score``: ``lswag_plugin.score(model, batch, "lswag")`` (a private copy per call);
- ``scorer_owned``: ``Scorer("lswag").score(fresh_model, owned=True)`` (the batch placed once, no copy;
  the network is built before the clock starts, as a search builds its candidates).

``--workers N`` (N > 1) also times NB201 candidates (full size, batch 64 at 32×32) per second through
``Scorer.score_archs`` with 1 worker and with N worker processes, in one run.

    python benchmarks/fixed_cost.py --repeats 5 --workers 2 --json benchmarks/results/fixed_cost.json

Runs against an older checkout too (``PYTHONPATH=<checkout>``): rows that need a newer API are skipped.
The last line of stdout is a JSON object (``--json PATH`` writes it to a file too).
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import _common
import numpy as np
import torch
import torch.nn.functional as F

import lswag_plugin
from lswag_plugin.spaces import get_space

ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _plain(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor) -> None:
    model.train()
    model.zero_grad(set_to_none=True)
    F.cross_entropy(model(x), y).backward()


def _time(fn: Any, calls: int) -> float:
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def fixed_cost(repeats: int, calls: int) -> dict[str, float]:
    """Returns the median seconds per call of each configuration (see the module docstring)."""
    space = get_space("nb201", channels=4, cells_per_stage=1)
    torch.manual_seed(0)
    model = space.build(ARCH, num_classes=10)
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(8, 3, 8, 8, generator=gen), torch.arange(8) % 10
    rows: dict[str, Any] = {
        "plain": lambda: _plain(model, x, y),
        # The floor of the default K = 2: two forward+backward passes of half the batch each.
        "plain_two_halves": lambda: (_plain(model, x[:4], y[:4]), _plain(model, x[4:], y[4:])),
        "score": lambda: lswag_plugin.score(model, (x, y), "lswag", device="cpu", batch_size=None),
    }
    scorer_cls = getattr(lswag_plugin.engine, "Scorer", None)
    if scorer_cls is not None:
        scorer = scorer_cls("lswag", data=(x, y), batch_size=None, device="cpu")
        pool = [space.build(ARCH, num_classes=10) for _ in range(calls)]

        def owned() -> None:
            scorer.score(pool.pop(), owned=True)

        rows["scorer_owned"] = owned
    times: dict[str, list[float]] = {k: [] for k in rows}
    for fn in rows.values():  # warm-up
        fn()
    for _ in range(repeats):
        for name, fn in rows.items():
            if name == "scorer_owned":
                pool[:] = [space.build(ARCH, num_classes=10) for _ in range(calls)]
            times[name].append(_time(fn, calls))
    return {k: statistics.median(v) for k, v in times.items()}


def worker_throughput(workers: int, n: int, data: str | None, threads: int = 1) -> dict[str, float]:
    """Returns NB201 candidates per second with 1 worker and with ``workers`` worker processes."""
    from lswag_plugin.engine import Scorer

    space = get_space("nb201")
    rng = np.random.default_rng(0)
    archs = [space.sample(rng) for _ in range(2 * n)]
    out = {}
    for w, part in ((1, archs[:n]), (workers, archs[n:])):
        with Scorer(
            "lswag", space=space, data=data, device="cpu", workers=w, threads=threads
        ) as scorer:
            if w > 1:
                scorer.score_archs(archs[:w])  # start the workers before the clock
            t0 = time.perf_counter()
            results = scorer.score_archs(part)
            seconds = time.perf_counter() - t0
        assert all(r.ok for r in results)
        out[f"workers_{w}_per_second"] = len(part) / seconds
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--calls", type=int, default=20)
    p.add_argument("--n", type=int, default=40, help="NB201 candidates per worker setting")
    _common.add_flags(
        p,
        "workers",
        "data",
        "threads",
        "json",
        threads=1,
        helps={
            "workers": "also time NB201 candidates per second with N worker processes (1: skip)",
            "data": "image batch of the worker run: .npz or image folder",
        },
    )
    args = _common.parse(p)
    cost = fixed_cost(args.repeats, args.calls)
    result: dict[str, Any] = {
        "version": lswag_plugin.__version__,
        "ms": {k: round(v * 1e3, 3) for k, v in cost.items()},
        "ratio_to_plain": {k: round(v / cost["plain"], 3) for k, v in cost.items()},
    }
    print("| call | ms | × plain forward+backward |\n|---|---|---|")
    for k in cost:
        print(f"| {k} | {result['ms'][k]:.2f} | {result['ratio_to_plain'][k]:.2f} |")
    if args.workers > 1:
        result["throughput"] = worker_throughput(args.workers, args.n, args.data, args.threads)
        t = result["throughput"]
        print(
            f"NB201 (batch 64, 32²), lswag, 1 thread per worker: {t['workers_1_per_second']:.2f}/s with "
            f"1 worker, {t[f'workers_{args.workers}_per_second']:.2f}/s with {args.workers}"
        )
    _common.emit(result, args.json)


if __name__ == "__main__":
    main()
