"""AZ-NAS set-ups on a tuning split of NAS-Bench-201, and whether AZ-NAS's initialisation moves the rest.

``--sample`` cells are drawn with ``--seed`` as ``lswag bench --sample N --seed S`` draws them (seed 1:
the tuning split; the seed-0 report cells are not for choosing) and built as bench builds them
(``build_seeded`` with the scoring seed, 10-way head). Each cell is scored:

- **AZ-NAS as shipped**, the authors' set-up: the four ``az_*`` proxies from their data-free pass
  (a Gaussian batch, a Kaiming-normal re-initialised copy, the stem and every block, Rademacher probes
  and σ_max; ``lswag_plugin.engine.captures.data_free_blocks``), and their pool aggregation;
- **the same pass on real images**: the scoring batch (``--data``) instead of the Gaussian batch, all
  else equal;
- **L-SWAG, Λ, Ψ, MeCo and NWOT** with the network's own initialisation and after the same
  Kaiming-normal re-initialisation (``kaiming_reinit``, seeded by the scoring seed).

Prints Spearman ρ (Kendall τ) of each against ``cifar10_valid_acc``, ``cifar10_test_acc`` and
``cifar100_test_acc``. The previous reading (stages, real images, default initialisation) is
measured by ``lswag bench ... --proxies az_expressivity,... --sample 300 --seed 1`` at a commit
before the change (``docs/results.md``, "AZ-NAS on NAS-Bench-201").

    python benchmarks/az_setup.py --sample 300 --seed 1 --threads 1
"""

from __future__ import annotations

import argparse
import math
import sys

import _common
import torch

from lswag_plugin.bench.tables import read_table
from lswag_plugin.engine import Scorer
from lswag_plugin.engine.captures.data_free_blocks import block_features, kaiming_reinit
from lswag_plugin.engine.clone import private_copy
from lswag_plugin.proxies.az_nas import (
    AZ_PROXIES,
    az_nas_pool,
    expressivity,
    progressivity,
    trainability,
)
from lswag_plugin.spaces import get_space
from lswag_plugin.stats import kendall, spearman

TARGETS = ("cifar10_valid_acc", "cifar10_test_acc", "cifar100_test_acc")
POOL = ("lswag", "lswag.lambda", "lswag.psi", "meco", "nwot")


def _real_image_az(scorer: Scorer, arch: str) -> dict[str, float]:
    """The four AZ proxies from the data-free pass run on the scoring batch instead of Gaussian input."""
    generator = torch.Generator().manual_seed(scorer.config.seed)
    model = private_copy(scorer.build(arch), scorer.device)
    kaiming_reinit(model, generator)  # the pass's first draws; the input is not drawn here
    inputs = scorer.batch()[0].clone().requires_grad_(True)
    blocks = block_features(model, inputs, generator)
    return {
        "az_expressivity": expressivity(blocks),
        "az_progressivity": progressivity(blocks),
        "az_trainability": trainability(blocks),
        "az_complexity": blocks.flops,
    }


def _pool_values(scorer: Scorer, model: torch.nn.Module) -> dict[str, float]:
    scores = scorer.score(model, owned=True)
    return {**dict(scores), **{k: scores.components[k] for k in ("lswag.lambda", "lswag.psi")}}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    _common.add_flags(
        p,
        "data",
        "data_dir",
        "sample",
        "seed",
        "threads",
        "json",
        data=_common.CIFAR10,
        sample=300,
        seed=1,
        threads=1,
        helps={"seed": "seed of the sample of cells and of the scores (1: the tuning split)"},
    )
    args = _common.parse(p)
    config = _common.scoring_config(args, num_classes=10, resolution=32, batch_size=64)
    table = read_table(args.data_dir / "nb201" / "nb201_accuracy.csv")
    rows = table.sample(table.labelled("cifar10_valid_acc")[0], args.sample, args.seed)
    space = get_space("nb201")
    az = Scorer(list(AZ_PROXIES), config, space=space)
    pool = Scorer("lswag,meco,nwot", config, space=space)
    columns: dict[str, list[float]] = {}

    def add(prefix: str, values: dict[str, float]) -> None:
        for name, value in values.items():
            columns.setdefault(f"{prefix}{name}", []).append(float(value))

    for i, row in enumerate(rows):
        arch = row["arch_str"]
        add("authors/", dict(az.score_arch(arch)))
        add("real images/", _real_image_az(az, arch))
        add("own init/", _pool_values(pool, pool.build(arch)))
        model = pool.build(arch)
        kaiming_reinit(model, torch.Generator().manual_seed(config.seed))
        add("kaiming init/", _pool_values(pool, model))
        print(f"\r{i + 1}/{len(rows)} cells", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    for setup in ("authors", "real images"):
        members = {p: columns[f"{setup}/{p}"] for p in AZ_PROXIES}
        columns[f"{setup}/az_nas_pool"] = list(az_nas_pool(members))
    truth = {t: [float(r[t]) for r in rows] for t in TARGETS}
    result = {
        name: {t: {"rho": spearman(v, truth[t]), "tau": kendall(v, truth[t])} for t in TARGETS}
        for name, v in columns.items()
    }
    print(f"| reading ({len(rows)} cells, seed {args.seed}) | " + " | ".join(TARGETS) + " |")
    print("|---|" + "---|" * len(TARGETS))
    for name, by_target in result.items():
        cells = [
            f"{by_target[t]['rho']:.3f} ({by_target[t]['tau']:.3f})"
            if not math.isnan(by_target[t]["rho"])
            else "nan"
            for t in TARGETS
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    _common.emit({"sample": len(rows), "seed": args.seed, "readings": result}, args.json)


if __name__ == "__main__":
    main()
