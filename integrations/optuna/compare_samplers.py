"""Compare Optuna samplers with our evolution and random search on NAS-Bench-201, equal budgets.

    python integrations/optuna/compare_samplers.py [--table ../shared/data/nb201/nb201_accuracy.csv]
        [--target cifar10_test_acc] [--budget 200] [--seeds 0 1 2]

Each strategy spends the same budget of distinct cells; fitness is the table's trained accuracy (the
oracle evaluator), so the comparison isolates the search strategy and runs in seconds. For zero-cost
evaluators (L-SWAG, LIBRA, ...) on the same grid, use ``lswag compare`` (docs/compare.md).
"""

from __future__ import annotations

import argparse
import statistics

from lswag_plugin.bench.tables import read_table
from lswag_plugin.compare import TableOracle, run_one
from lswag_plugin.data import shared_data_dir
from lswag_plugin.spaces import get_space

STRATEGIES = ("random", "evolution", "optuna-tpe", "optuna-nsga2")


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--table", default=str(shared_data_dir() / "nb201" / "nb201_accuracy.csv"))
    ap.add_argument("--target", default="cifar10_test_acc")
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = ap.parse_args()

    space = get_space("nb201")
    rows = read_table(args.table).rows
    accuracy = {space.encode(r["arch_str"]): float(r[args.target]) for r in rows}
    oracle = TableOracle(space, accuracy)
    print(
        f"NB201 {args.target}, budget {args.budget}, seeds {args.seeds} (optimum {max(accuracy.values()):.2f})"
    )
    print(f"{'strategy':<14}{'best found (mean ± std)':>26}")
    for strategy in STRATEGIES:
        finals = [
            run_one(strategy, space, oracle, accuracy, budget=args.budget, seed=s)["best_acc"][-1]
            for s in args.seeds
        ]
        spread = statistics.stdev(finals) if len(finals) > 1 else 0.0
        print(f"{strategy:<14}{statistics.mean(finals):>18.2f} ± {spread:.2f}")


if __name__ == "__main__":
    main()
