"""``lswag libra fit|eval``: fit LIBRA-NAS on a table of proxy scores, evaluate a fitted model."""

from __future__ import annotations

import argparse
import csv
import math
from pathlib import Path
from typing import Any

import numpy as np

from lswag_plugin.cli import _common as common

#: ``lswag_plugin.libra.FUSION_RULES`` and ``WEIGHTINGS``, spelled out so that building the parser does
#: not import scipy (a test checks they agree).
FUSION_CHOICES = ("logrank", "rank", "zscore")
WEIGHTING_CHOICES = ("snr", "equal")


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "libra",
        help="fit / evaluate a LIBRA-NAS combined proxy on a table of proxy scores",
        description="LIBRA-NAS: choose three complementary proxies from a scores table (one row per "
        "architecture, one column per proxy, e.g. the --out of `lswag bench`) and fuse them.",
    )
    sub = p.add_subparsers(dest="libra_command", metavar="{fit,eval}")
    f = sub.add_parser("fit", help="fit a LIBRA model and write it as JSON")
    f.add_argument("--scores", required=True, help="CSV: one row per architecture")
    f.add_argument("--target", required=True, help="the accuracy column")
    f.add_argument("--params-column", required=True, help="the #params column")
    f.add_argument(
        "--proxies",
        default=None,
        help="comma-separated candidate columns (default: the columns named like registered proxies, "
        "else every numeric column but the target and params); a column named like a registered "
        "proxy has its direction, any other is higher-is-better",
    )
    f.add_argument(
        "--train-fraction",
        type=float,
        default=None,
        help="fit on this random fraction of the rows; report Spearman on the rest",
    )
    f.add_argument("--seed", type=int, default=0, help="seed of the train/held-out split")
    f.add_argument("--window", type=float, default=0.1, help="ρ window below the best proxy (0.1)")
    f.add_argument("--bins", type=int, default=24, help="histogram bins of the entropies (24)")
    f.add_argument(
        "--fusion",
        choices=FUSION_CHOICES,
        default="logrank",
        help="how the members' fit-sample quantiles (or z-scores) are fused (default: logrank)",
    )
    f.add_argument(
        "--weighting",
        choices=WEIGHTING_CHOICES,
        default="snr",
        help="member weights: rho^2/(1-rho^2) of each member on the fit rows (snr, default) or equal",
    )
    f.add_argument("--out", required=True, help="write the model (JSON) here")
    f.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    f.set_defaults(func=run_fit)
    e = sub.add_parser("eval", help="Spearman of a fitted model's fused score on a table")
    e.add_argument("--model", required=True, help="a model written by `lswag libra fit`")
    e.add_argument("--scores", required=True, help="CSV: one row per architecture")
    e.add_argument("--target", required=True, help="the accuracy column")
    e.add_argument("--json", action="store_true", help="print one JSON summary as the last line")
    e.set_defaults(func=run_eval)
    p.set_defaults(func=lambda args: _usage(p))


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def read_table(path: str | Path) -> dict[str, list[str]]:
    """Returns a CSV file as column name → list of cell strings.

    Raises:
        LibraError: The file is empty or has no header.
    """
    from lswag_plugin.libra import LibraError

    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise LibraError(f"{path}: no rows (expected a header and one row per architecture)")
    return {name: [r[name] for r in rows] for name in rows[0]}


def _numeric(values: list[str]) -> np.ndarray | None:
    out = []
    for v in values:
        v = v.strip()
        if v in ("", "nan", "NaN", "None", "null"):
            out.append(math.nan)
            continue
        try:
            out.append(float(v))
        except ValueError:
            return None
    return np.asarray(out, dtype=np.float64)


def _column(table: dict[str, list[str]], name: str, what: str) -> np.ndarray:
    from lswag_plugin.libra import LibraError

    if name not in table:
        raise LibraError(f"no column {name!r} ({what}); columns: {', '.join(table)}")
    values = _numeric(table[name])
    if values is None:
        raise LibraError(f"column {name!r} ({what}) is not numeric")
    return values


def candidate_columns(
    table: dict[str, list[str]], *, exclude: set[str], proxies: str | None
) -> dict[str, np.ndarray]:
    """Returns the proxy columns to choose from (see ``--proxies``)."""
    from lswag_plugin.libra import LibraError
    from lswag_plugin.proxies import available

    if proxies:
        names = [n.strip() for n in proxies.split(",") if n.strip()]
        return {n: _column(table, n, "a proxy") for n in names}
    numeric = {n: v for n, v in ((n, _numeric(c)) for n, c in table.items()) if v is not None}
    numeric = {n: v for n, v in numeric.items() if n not in exclude}
    registered = {p.name for p in available()} - {"libra"}
    named = {n: v for n, v in numeric.items() if n in registered}
    chosen = named or numeric
    if not chosen:
        raise LibraError("no numeric proxy column in the table; name them with --proxies")
    return chosen


def column_directions(columns: dict[str, Any]) -> dict[str, str]:
    """Returns each column's direction: the registered proxy's, else ``"max"`` (higher is better).

    Example:
        >>> column_directions({"nwot": [1.0], "my_score": [2.0]})
        {'nwot': 'max', 'my_score': 'max'}
    """
    from lswag_plugin import libra

    registered = libra.registry_directions()
    return {name: registered.get(name, "max") for name in columns}


def run_fit(args: argparse.Namespace) -> int:
    from lswag_plugin import libra

    table = read_table(args.scores)
    y = _column(table, args.target, "--target")
    params = _column(table, args.params_column, "--params-column")
    columns = candidate_columns(
        table, exclude={args.target, args.params_column}, proxies=args.proxies
    )
    keep = np.isfinite(y)
    n = int(keep.sum())
    rows = np.flatnonzero(keep)
    if args.train_fraction is not None:
        if not 0 < args.train_fraction < 1:
            raise libra.LibraError(f"--train-fraction must be in (0, 1), got {args.train_fraction}")
        perm = np.random.default_rng(args.seed).permutation(rows)
        n_train = max(3, round(args.train_fraction * n))
        train, test = perm[:n_train], perm[n_train:]
    else:
        train, test = rows, rows[:0]
    model = libra.fit(
        {k: v[train] for k, v in columns.items()},
        y[train],
        params[train],
        window=args.window,
        bins=args.bins,
        fusion=args.fusion,
        weighting=args.weighting,
        directions=column_directions(columns),
        target=args.target,
    )
    model.save(args.out)
    rho_train = libra.spearman(
        model.score_table({k: v[train] for k, v in columns.items()}), y[train]
    )
    rho_test = (
        libra.spearman(model.score_table({k: v[test] for k, v in columns.items()}), y[test])
        if len(test) >= 3
        else math.nan
    )
    print(f"candidates: {', '.join(columns)}")
    print(
        "ρ(proxy, target) on the fit rows: "
        + ", ".join(
            f"{k} {model.spearman[k]:.3f}"
            for k in sorted(model.spearman, key=lambda k: -model.spearman[k])
        )
    )
    print(f"window: {', '.join(model.window)}")
    for k in model.window[1:]:
        print(f"  {k}: IG {model.information_gain[k]:.4f} bits, bias {model.bias[k]:+.3f}")
    print(f"target bias ρ({args.target}, #params) = {model.target_bias:+.3f}")
    print(
        f"selected: {', '.join(model.selected)}"
        + (f"  ({model.fallback})" if model.fallback else "")
    )
    weights = ", ".join(f"{k} {w:.2f}" for k, w in zip(model.selected, model.weights, strict=True))
    print(
        f"fusion: {model.fusion}, {model.weighting} weights ({weights})   model written to {args.out}"
    )
    print(f"Spearman on the {len(train)} fit rows: {rho_train:.4f}")
    if len(test):
        print(f"Spearman on the {len(test)} held-out rows: {rho_test:.4f}")
    if args.json:
        common.print_json_line(
            {
                "selected": model.selected,
                "spearman_train": rho_train,
                "spearman_heldout": rho_test if len(test) else None,
                "n_train": len(train),
                "n_test": len(test),
                "fusion": model.fusion,
                "weighting": model.weighting,
                "model": str(args.out),
                "summary": model.summary(),
            }
        )
    return 0


def run_eval(args: argparse.Namespace) -> int:
    from lswag_plugin import libra

    model = libra.load(args.model)
    table = read_table(args.scores)
    y = _column(table, args.target, "--target")
    columns: dict[str, Any] = {n: _column(table, n, "a LIBRA member") for n in model.selected}
    keep = np.isfinite(y)
    fused = model.score_table({k: v[keep] for k, v in columns.items()})
    rho = libra.spearman(fused, y[keep])
    members = {
        n: libra.spearman(model.members[i].transformed(columns[n][keep]), y[keep])
        for i, n in enumerate(model.selected)
    }
    print("members: " + ", ".join(f"{n} ρ {r:.4f}" for n, r in members.items()))
    print(f"LIBRA ({model.fusion}) Spearman on {int(keep.sum())} rows: {rho:.4f}")
    if args.json:
        common.print_json_line(
            {"spearman": rho, "n": int(keep.sum()), "selected": model.selected, "members": members}
        )
    return 0
