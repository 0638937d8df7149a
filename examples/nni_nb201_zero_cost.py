"""A ready NNI NasExperiment on NAS-Bench-201 that scores candidates with L-SWAG instead of training them.

NNI's own ``NasBench201`` hub space, NNI's ``RegularizedEvolution`` strategy, NNI's in-process sequential
engine; only the evaluator is ours. Prints the top cells as NB201 strings with their scores, and their
trained accuracy from the NAS-Bench-201 table when ``../shared/data`` (or ``$LSWAG_DATA``) is present.

    python examples/nni_nb201_zero_cost.py --trials 10
"""

from __future__ import annotations

import argparse
import logging
import warnings

warnings.filterwarnings(
    "ignore", message=".*is found to be not a nn.Module", category=RuntimeWarning
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--proxy", default="lswag", help="objective proxy (or 'libra')")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()

    from nni.nas.experiment import NasExperiment
    from nni.nas.hub.pytorch import NasBench201
    from nni.nas.strategy import RegularizedEvolution

    from lswag_plugin.data import shared_data_dir
    from lswag_plugin.nni import ZeroCostEvaluator, nb201_arch_from_sample, sequential_config

    logging.getLogger("nni").setLevel(logging.WARNING)
    data_dir = shared_data_dir()
    images = data_dir / "images" / "cifar10_sample.npz"
    evaluator = ZeroCostEvaluator(
        args.proxy,
        data=images if images.exists() else None,  # real CIFAR-10 images, else the bundled photos
        batch_size=args.batch_size,
        resolution=args.resolution,
        seed=args.seed,
        num_classes=10,
    )
    population = max(2, args.trials // 2)
    experiment = NasExperiment(
        NasBench201(),  # C=16, N=5: the networks of the NAS-Bench-201 table
        evaluator,
        RegularizedEvolution(
            population_size=population, sample_size=min(3, population), seed=args.seed
        ),
        sequential_config(max_trial_number=args.trials),
    )
    try:
        experiment.run()
    finally:
        experiment.stop()

    accuracy = {}
    table = data_dir / "nb201" / "nb201_accuracy.csv"
    if table.exists():
        from lswag_plugin.bench.tables import read_table

        accuracy = {r["arch_str"]: float(r["cifar10_valid_acc"]) for r in read_table(table).rows}
    scores = {str(r.sample): r.metrics for r in evaluator.history if r.metrics is not None}
    print(f"\ntop {args.top} of {len(evaluator.history)} trials by {args.proxy}:")
    for sample in experiment.export_top_models(top_k=args.top, formatter="dict"):
        arch = nb201_arch_from_sample(sample)
        acc = f"  CIFAR-10 valid acc {accuracy[arch]:.2f} %" if arch in accuracy else ""
        print(f"{scores[str(sample)][args.proxy]:.6g}  {arch}{acc}")
    failed = [r for r in evaluator.history if r.failure]
    if failed:
        print(f"{len(failed)} failed trial(s), e.g. {failed[0].failure}")


if __name__ == "__main__":
    main()
