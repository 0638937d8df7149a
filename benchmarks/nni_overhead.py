"""Cost per trial of ZeroCostEvaluator inside an NNI NasExperiment vs calling ``lswag_plugin.score`` directly.

One run: an NNI experiment on the sequential (in-process) engine explores NNI's NasBench201 hub space with
the evaluator; beside each trial (alternately before and after it, so both see the same machine load) the
same candidate is built the same way (same init seed) and scored directly. The table gives, per trial,
the median seconds of:
- ``score``: ``lswag_plugin.score`` on the built candidate (what the evaluator calls),
- ``build+score``: building the frozen candidate (``executable_model()``) and scoring it, directly,
- ``evaluator``: the evaluator's own time per trial (build, score, report to NNI),
- ``trial``: the experiment's wall time (less the direct runs) divided by its trials (strategy, engine and
  NNI bookkeeping too; NNI's TPE strategy sleeps 1 s after each submission),
and each as a ratio to ``score``; ``pair`` is the median over trials of evaluator / score. Scores must
agree exactly (checked). The last line of stdout is a JSON object (``--json PATH`` writes it to a file
too).

    python benchmarks/nni_overhead.py --trials 20 --strategies random,evolution,tpe --json nni_overhead.json
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import tempfile
import time
import warnings
from typing import Any

import _common
import torch

warnings.filterwarnings(
    "ignore", message=".*is found to be not a nn.Module", category=RuntimeWarning
)


def make_strategy(name: str, seed: int) -> Any:
    from nni.nas import strategy

    if name == "random":
        return strategy.Random(seed=seed)
    if name == "evolution":
        return strategy.RegularizedEvolution(population_size=8, sample_size=4, seed=seed)
    if name == "tpe":
        return strategy.TPE(optimize_mode="maximize", seed=seed)
    raise SystemExit(f"unknown strategy {name!r}; use random, evolution or tpe")


def run_one(args: argparse.Namespace, name: str) -> dict[str, Any]:
    from nni.nas.experiment import NasExperiment
    from nni.nas.hub.pytorch import NasBench201

    import lswag_plugin
    from lswag_plugin.nni import ZeroCostEvaluator, sequential_config

    class TimedEvaluator(ZeroCostEvaluator):
        """Times the direct path on the same candidate right beside each trial (alternating order)."""

        def __init__(self, *a: Any, **kw: Any) -> None:
            super().__init__(*a, **kw)
            self.pairs: list[tuple[float, float, float]] = []

        def direct(self, model: Any) -> tuple[float, float, dict[str, float]]:
            t0 = time.perf_counter()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.init_seed)
                net = model.executable_model()
            t1 = time.perf_counter()
            scores = lswag_plugin.score(
                net,
                self.batch(),
                self.proxies,
                device="cpu",
                batch_size=None,
                seed=self.config.seed,
            )
            t2 = time.perf_counter()
            return t2 - t1, t2 - t0, dict(scores)

        def _execute(self, model: Any) -> dict[str, float]:
            first = len(self.pairs) % 2 == 0
            if first:
                score_s, build_score_s, direct = self.direct(model)
            t0 = time.perf_counter()
            result = super()._execute(model)
            evaluator_s = time.perf_counter() - t0
            if not first:
                score_s, build_score_s, direct = self.direct(model)
            if any(direct[k] != result[k] for k in direct):
                raise SystemExit(f"direct scores differ from the evaluator's for {model.sample}")
            self.pairs.append((score_s, build_score_s, evaluator_s))
            return result

    evaluator = TimedEvaluator(
        args.proxies, batch_size=args.batch_size, resolution=args.resolution, seed=args.seed
    )
    warm = NasBench201(stem_out_channels=args.channels, num_modules_per_stack=args.cells)
    lswag_plugin.score(warm, evaluator.batch(), "nwot", device="cpu", batch_size=None)  # warm up
    exp = NasExperiment(
        NasBench201(stem_out_channels=args.channels, num_modules_per_stack=args.cells),
        evaluator,
        make_strategy(name, args.seed),
        sequential_config(max_trial_number=args.trials),
    )
    started = time.perf_counter()
    try:
        exp.run()
    finally:
        exp.stop()
    wall = time.perf_counter() - started
    # The experiment's wall time also holds the direct runs done here: subtract them.
    direct_total = sum(p[1] for p in evaluator.pairs)
    score_s, build_score_s, evaluator_s = (list(col) for col in zip(*evaluator.pairs))
    score = statistics.median(score_s)
    rows = {
        "score": score,
        "build+score": statistics.median(build_score_s),
        "evaluator": statistics.median(evaluator_s),
        "trial": (wall - direct_total) / len(evaluator.pairs),
    }
    return {
        "strategy": name,
        "trials": len(evaluator.history),
        "failed": sum(r.failure is not None for r in evaluator.history),
        "seconds_per_trial": rows,
        "ratio_to_score": {k: v / score for k, v in rows.items()},
        "median_pair_ratio_evaluator_to_score": statistics.median(
            e / s for s, _, e in evaluator.pairs
        ),
        "experiment_seconds": wall - direct_total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--strategies", default="random,evolution,tpe")
    parser.add_argument("--proxies", default="lswag,nwot")
    parser.add_argument("--channels", type=int, default=8, help="NB201 C (16 in the benchmark)")
    parser.add_argument("--cells", type=int, default=2, help="NB201 N (5 in the benchmark)")
    _common.add_flags(
        parser,
        "batch_size",
        "resolution",
        "seed",
        "threads",
        "json",
        batch_size=16,
        resolution=16,
    )
    args = _common.parse(parser)

    os.environ.setdefault("HOME", tempfile.mkdtemp())  # NNI writes ~/nni-experiments
    logging.getLogger("nni").setLevel(logging.WARNING)
    results = [run_one(args, name) for name in args.strategies.split(",")]

    print(
        f"\nNNI NasBench201 hub (C={args.channels}, N={args.cells}), {args.proxies}, batch "
        f"{args.batch_size} at {args.resolution}², sequential engine, CPU threads "
        f"{torch.get_num_threads()}: median seconds per trial (ratio to score)\n"
    )
    print("| strategy | trials | score | build+score | evaluator | trial | pair |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        s, q = r["seconds_per_trial"], r["ratio_to_score"]
        cells = " | ".join(
            f"{s[k]:.3f} s ({q[k]:.2f}×)" for k in ("score", "build+score", "evaluator", "trial")
        )
        pair = r["median_pair_ratio_evaluator_to_score"]
        print(f"| {r['strategy']} | {r['trials']} | {cells} | {pair:.2f}× |")
    _common.emit({"config": vars(args), "results": results}, args.json)


if __name__ == "__main__":
    main()
