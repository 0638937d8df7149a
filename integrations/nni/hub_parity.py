"""NNI's NasBench101 and DARTS hub spaces vs our builders, each with its own initialisation.

tests/nni/test_nni_nb101_darts_parity.py shows that with NNI's weights copied in, our networks score
the same as NNI's. This script shows what changes when each side initialises its own network from the
same seed (what ``ZeroCostEvaluator(init_seed=...)`` on NNI's space vs ``lswag search`` on ours does):
#params, FLOPs and output shapes of each candidate, its L-SWAG and NWOT on each side (mean over init
seeds), and whether the two sides rank the candidates alike.

    python integrations/nni/hub_parity.py --seeds 0,1,2 --batch-size 16 --resolution 16
"""

from __future__ import annotations

import argparse
import logging
import warnings
from typing import Any

warnings.filterwarnings(
    "ignore", message=".*is found to be not a nn.Module", category=RuntimeWarning
)

C3, C1, MP = "conv3x3-bn-relu", "conv1x1-bn-relu", "maxpool3x3"
NB101_CELLS: dict[str, Any] = {
    "readme": {
        "matrix": [[0, 1, 1, 1, 1, 0, 0], [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 0, 1],
                   [0, 0, 0, 0, 0, 0, 1], [0, 0, 0, 0, 0, 1, 0], [0, 0, 0, 0, 0, 0, 1],
                   [0, 0, 0, 0, 0, 0, 0]],
        "ops": ["input", C3, C1, MP, C3, C3, "output"],
    },
    "fan3": {
        "matrix": [[0, 1, 1, 0, 1], [0, 0, 0, 1, 1], [0, 0, 0, 1, 1], [0, 0, 0, 0, 1],
                   [0, 0, 0, 0, 0]],
        "ops": ["input", C3, C1, MP, "output"],
    },
    "chain": {"matrix": [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 0]],
              "ops": ["input", C1, C3, "output"]},
}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", default="0,1,2", help="init seeds (comma-separated)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--resolution", type=int, default=16)
    parser.add_argument(
        "--nb101-stem", type=int, default=16, help="NB101 stem channels (3 stacks × 1)"
    )
    parser.add_argument("--darts-width", type=int, default=8, help="DARTS channels (5 cells)")
    args = parser.parse_args()
    logging.getLogger("nni").setLevel(logging.WARNING)

    import numpy as np
    import torch
    from nni.nas.hub.pytorch import DARTS, NasBench101
    from scipy.stats import kendalltau

    import lswag_plugin
    from lswag_plugin.data import default_batch
    from lswag_plugin.engine.rng import seeded
    from lswag_plugin.nni import darts_sample_from_arch, nb101_sample_from_arch
    from lswag_plugin.spaces import get_space
    from lswag_plugin.spaces.darts import DARTS_V2

    torch.set_num_threads(1)
    seeds = [int(s) for s in args.seeds.split(",")]
    batch = default_batch(args.batch_size, resolution=args.resolution, seed=0)
    sampled = get_space("darts").sample(np.random.default_rng(1))
    nb101 = get_space("nb101", stem_channels=args.nb101_stem, stacks=3, cells_per_stack=1)
    darts = get_space("darts", channels=args.darts_width, cells=5, style="darts")
    nni_nb101 = {"stem_out_channels": args.nb101_stem, "num_stacks": 3, "num_modules_per_stack": 1}
    candidates = [
        (f"nb101 {name}", lambda a=arch: NasBench101.frozen_factory(nb101_sample_from_arch(a))(**nni_nb101), lambda a=arch: nb101.build(a))
        for name, arch in NB101_CELLS.items()
    ] + [
        (f"darts {name}", lambda a=arch: DARTS.frozen_factory(darts_sample_from_arch(a))(width=args.darts_width, num_cells=5), lambda a=arch: darts.build(a))
        for name, arch in (("darts_v2", DARTS_V2), ("sampled", sampled))
    ]  # fmt: skip

    rows = []
    for label, build_nni, build_ours in candidates:
        row: dict[str, Any] = {"candidate": label}
        for side, build in (("nni", build_nni), ("ours", build_ours)):
            values = []
            for seed in seeds:
                with seeded(seed):
                    model = build()
                values.append(
                    lswag_plugin.score(
                        model, batch, "lswag,nwot,params,flops", device="cpu", batch_size=None
                    )
                )
                with torch.no_grad():
                    shape = tuple(model.eval()(batch[0][:2]).shape)
            row[f"{side}.params"] = int(values[0]["params"])
            row[f"{side}.flops"] = int(values[0]["flops"])
            row[f"{side}.shape"] = shape
            for proxy in ("lswag", "nwot"):
                row[f"{side}.{proxy}"] = float(np.mean([v[proxy] for v in values]))
        rows.append(row)

    print(f"seeds {seeds}, {args.batch_size} images at {args.resolution}², CPU")
    print(
        "| candidate | params NNI / ours | FLOPs NNI / ours | L-SWAG NNI / ours | NWOT NNI / ours |"
    )
    print("|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['candidate']} | {r['nni.params']:,} / {r['ours.params']:,} "
            f"| {r['nni.flops']:,} / {r['ours.flops']:,} "
            f"| {r['nni.lswag']:.4g} / {r['ours.lswag']:.4g} | {r['nni.nwot']:.2f} / {r['ours.nwot']:.2f} |"
        )
        assert r["nni.shape"] == r["ours.shape"], r
    for space in ("nb101", "darts"):
        group = [r for r in rows if r["candidate"].startswith(space)]
        for proxy in ("lswag", "nwot"):
            nni_order = [r["candidate"] for r in sorted(group, key=lambda r: -r[f"nni.{proxy}"])]
            our_order = [r["candidate"] for r in sorted(group, key=lambda r: -r[f"ours.{proxy}"])]
            tau = kendalltau(
                [r[f"nni.{proxy}"] for r in group], [r[f"ours.{proxy}"] for r in group]
            )
            print(
                f"{space} {proxy}: NNI ranks {nni_order}, ours {our_order} (Kendall τ {tau.statistic:.2f})"
            )


if __name__ == "__main__":
    main()
