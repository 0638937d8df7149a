"""NNI strategies on NAS-Bench-201 with NNI's evaluation replaced by zero-cost scoring, and compared.

For each NNI strategy (and seed) the same NasExperiment runs twice on NNI's ``NasBench201`` hub space:

- ``zero-cost``: :class:`lswag_plugin.nni.ZeroCostEvaluator` scores each candidate at initialisation;
- ``table``: the candidate's trained accuracy is looked up in the NAS-Bench-201 table (what NNI's
  benchmark evaluation gives; an upper reference for the same strategy and budget, no network is built).

The cell each run exports as its best is then scored with the table's accuracy (``--target``, plus the
CIFAR-10 test accuracy) and its percentile among all 15,625 cells. Needs ``../shared/data`` (or
``$LSWAG_DATA``) for the table; without it only the zero-cost runs happen and no accuracy is shown.

    python integrations/nni/compare_strategies.py --strategies random,evolution,tpe --trials 20 \\
        --resolution 16 --batch-size 16 --json nni_compare.json
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings(
    "ignore", message=".*is found to be not a nn.Module", category=RuntimeWarning
)


def make_strategy(name: str, seed: int, trials: int) -> Any:
    """Returns NNI's strategy called ``name`` (all of them maximise the trial's default metric)."""
    from nni.nas import strategy

    if name == "random":
        return strategy.Random(seed=seed)
    if name == "evolution":
        return strategy.RegularizedEvolution(
            population_size=max(2, trials // 4), sample_size=max(2, trials // 8), seed=seed
        )
    if name == "tpe":  # NNI's TPE forwards to TpeTuner, which minimises unless told otherwise
        return strategy.TPE(optimize_mode="maximize", seed=seed)
    if name == "rl":  # needs tianshou and gym
        return strategy.PolicyBasedRL(samples_per_update=max(2, trials // 4))
    raise SystemExit(f"unknown strategy {name!r}; use random, evolution, tpe or rl")


def table_evaluator_class() -> type:
    """Returns an NNI evaluator that reports a cell's accuracy from the NB201 table (no training)."""
    import nni
    from nni.nas.evaluator import Evaluator

    from lswag_plugin.nni import nb201_arch_from_sample

    class TableEvaluator(Evaluator):
        def __init__(self, accuracy: dict[str, float], target: str) -> None:
            self.accuracy, self.target = accuracy, target

        def evaluate(self, model: Any) -> None:  # pragma: no cover - _execute never builds a model
            raise NotImplementedError("TableEvaluator looks cells up; it never builds a network")

        def _execute(self, model: Any) -> dict[str, float]:
            value = self.accuracy[nb201_arch_from_sample(model.sample)]
            result = {"default": value, self.target: value}
            nni.report_final_result(result)
            return result

    return TableEvaluator


def run_experiment(space: Any, evaluator: Any, search: Any, trials: int) -> tuple[dict, float]:
    from nni.nas.experiment import NasExperiment

    from lswag_plugin.nni import sequential_config

    exp = NasExperiment(space, evaluator, search, sequential_config(max_trial_number=trials))
    started = time.perf_counter()
    try:
        exp.run()
    finally:
        exp.stop()
    top = exp.export_top_models(top_k=1, formatter="dict")
    return (top[0] if top else {}), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="random,evolution,tpe")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--seeds", default="0", help="comma-separated strategy seeds")
    parser.add_argument("--proxy", default="lswag", help="objective proxy (or 'libra')")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument(
        "--channels", type=int, default=16, help="NB201 C (16: the table's networks)"
    )
    parser.add_argument("--cells", type=int, default=5, help="NB201 N (5: the table's networks)")
    parser.add_argument("--target", default="cifar10_valid_acc")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args()

    os.environ.setdefault("HOME", tempfile.mkdtemp())  # NNI writes ~/nni-experiments
    logging.getLogger("nni").setLevel(logging.WARNING)
    from nni.nas.hub.pytorch import NasBench201

    from lswag_plugin.bench.tables import read_table
    from lswag_plugin.data import shared_data_dir
    from lswag_plugin.nni import ZeroCostEvaluator, nb201_arch_from_sample

    data_dir = shared_data_dir()
    table_path = data_dir / "nb201" / "nb201_accuracy.csv"
    rows = read_table(table_path).rows if table_path.exists() else []
    accuracy = {r["arch_str"]: float(r[args.target]) for r in rows}
    test_acc = {r["arch_str"]: float(r["cifar10_test_acc"]) for r in rows}
    ranked = sorted(accuracy.values())
    images: Path = data_dir / "images" / "cifar10_sample.npz"
    memo: dict[str, dict[str, float]] = {}  # same cell, same init seed, same batch: same scores

    class MemoZeroCostEvaluator(ZeroCostEvaluator):
        def _execute(self, model: Any) -> dict[str, float]:
            key = str(sorted(model.sample.items()))
            if key not in memo:
                memo[key] = super()._execute(model)
                return memo[key]
            import nni

            nni.report_final_result(memo[key])
            return memo[key]

    def describe(sample: dict, kind: str, name: str, seed: int, seconds: float) -> dict:
        arch = nb201_arch_from_sample(sample) if sample else None
        acc = accuracy.get(arch) if arch else None
        pct = None if acc is None else 100.0 * sum(v <= acc for v in ranked) / len(ranked)
        return {
            "strategy": name,
            "evaluation": kind,
            "seed": seed,
            "arch": arch,
            args.target: acc,
            "cifar10_test_acc": test_acc.get(arch) if arch else None,
            "percentile": pct,
            "seconds": seconds,
        }

    results = []
    for name in args.strategies.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            evaluator = MemoZeroCostEvaluator(
                args.proxy,
                data=images if images.exists() else None,
                batch_size=args.batch_size,
                resolution=args.resolution,
                seed=0,
                num_classes=10,
            )
            space = NasBench201(stem_out_channels=args.channels, num_modules_per_stack=args.cells)
            best, seconds = run_experiment(
                space, evaluator, make_strategy(name, seed, args.trials), args.trials
            )
            results.append(describe(best, "zero-cost", name, seed, seconds))
            if accuracy:
                table_eval = table_evaluator_class()(accuracy, args.target)
                space = NasBench201(
                    stem_out_channels=args.channels, num_modules_per_stack=args.cells
                )
                best, seconds = run_experiment(
                    space, table_eval, make_strategy(name, seed, args.trials), args.trials
                )
                results.append(describe(best, "table", name, seed, seconds))

    print(
        f"\nNNI NasBench201 hub (C={args.channels}, N={args.cells}), {args.trials} trials per run, "
        f"zero-cost = {args.proxy} on {args.batch_size} CIFAR-10 images at {args.resolution}²; "
        f"best exported cell scored with the NB201 table\n"
    )
    print(
        f"| strategy | evaluation | seed | {args.target} | cifar10_test_acc | percentile | seconds | cell |"
    )
    print("|---|---|---|---|---|---|---|---|")

    def fmt(v: Any) -> str:
        return "n/a" if v is None else f"{v:.2f}"

    for r in results:
        print(
            f"| {r['strategy']} | {r['evaluation']} | {r['seed']} | {fmt(r[args.target])} | "
            f"{fmt(r['cifar10_test_acc'])} | {fmt(r['percentile'])} | {r['seconds']:.0f} | "
            f"`{r['arch']}` |"
        )
    payload = {"config": vars(args), "results": results, "distinct_cells_scored": len(memo)}
    print(json.dumps(payload))
    if args.json:
        Path(args.json).write_text(json.dumps(payload, indent=2))


if __name__ == "__main__":
    main()
