"""``lswag data``: list, fetch and locate the benchmark tables (pinned public sources, sha256-checked).

    lswag data list [--dest DIR] [--json]
    lswag data fetch NAME... | all [--dest DIR] [--json]
    lswag data path NAME [--dest DIR]

Every ``--table`` option also takes these names (``--table nb201``, ``--table nb201-zc#cifar100``).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from lswag_plugin.cli import _common as common

_HOME_HELP = "data home (default: $LSWAG_DATA_HOME, else the platform's user data folder)"


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "data",
        help="list, fetch and locate the benchmark tables (nb201, nb101, nb301...)",
        description="The benchmark tables, fetched from pinned commits of their public repositories, "
        "checked against pinned sha256 hashes and built locally. Commands take their names wherever "
        "they take a table (--table nb201). $LSWAG_DATA_MIRROR replaces "
        "https://raw.githubusercontent.com/ by a mirror URL or folder (<owner>/<repo>/<commit>/<path>).",
    )
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)

    ls = actions.add_parser(
        "list", help="every dataset: what it holds, sources, licence, size, path"
    )
    ls.add_argument("--dest", default=None, help=_HOME_HELP)
    ls.add_argument("--json", action="store_true", help="last stdout line: one JSON object")
    ls.set_defaults(func=run_list)

    fe = actions.add_parser("fetch", help="download, verify and build datasets (nothing twice)")
    fe.add_argument("names", nargs="+", metavar="NAME", help="dataset names, or 'all'")
    fe.add_argument("--dest", default=None, help=_HOME_HELP)
    fe.add_argument("--json", action="store_true", help='last stdout line: {"NAME": "path", ...}')
    fe.set_defaults(func=run_fetch)

    pa = actions.add_parser("path", help="print a dataset's table path (fetched on first use)")
    pa.add_argument("name", metavar="NAME")
    pa.add_argument("--dest", default=None, help=_HOME_HELP)
    pa.set_defaults(func=run_path)


def _megabytes(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.0f} kB"


def run_list(args: argparse.Namespace) -> int:
    from lswag_plugin.data import catalog, data_home, is_fetched
    from lswag_plugin.data.store import mirror

    home = data_home(args.dest)
    info = {}
    for name, dataset in catalog.DATASETS.items():
        path = home / dataset.filename if dataset.filename else None
        if path is None:
            path = home / "sources" / dataset.sources[0].relpath
        info[name] = {
            "description": dataset.description,
            "licence": dataset.licences,
            "bytes": dataset.size,
            "fetched": is_fetched(name, dest=home),
            "path": str(path),
            "sources": [
                {
                    "repo": s.repo,
                    "commit": s.commit,
                    "path": s.path,
                    "sha256": s.sha256,
                    "bytes": s.size,
                    "licence": s.licence,
                }
                for s in dataset.sources
            ],
        }
    base, folder = mirror()
    print(f"data home: {home}")
    print(f"sources from: {folder if folder is not None else base}")
    for name, d in info.items():
        state = "fetched" if d["fetched"] else f"not fetched, {_megabytes(d['bytes'])} to download"
        print(f"\n{name}  ({state}; {d['licence']})")
        print(f"  {d['description']}")
        print(f"  path: {d['path']}")
        for s in d["sources"]:
            print(
                f"  source: {s['repo']} @ {s['commit']} {s['path']} "
                f"({_megabytes(s['bytes'])}, {s['licence']})"
            )
    if args.json:
        common.print_json_line(info)
    return 0


def run_fetch(args: argparse.Namespace) -> int:
    from lswag_plugin.data import DATA_HOME_ENV, data_home, fetch

    paths = fetch(args.names, dest=args.dest)
    for name, path in paths.items():
        print(f"{name}: {path}")
    if args.dest is not None and data_home(args.dest).resolve() != data_home().resolve():
        print(
            f"note: --table NAME reads {data_home()}; set {DATA_HOME_ENV}={data_home(args.dest)} "
            "to read these",
            file=sys.stderr,
        )
    if args.json:
        common.print_json_line({name: os.fspath(path) for name, path in paths.items()})
    return 0


def run_path(args: argparse.Namespace) -> int:
    from lswag_plugin.data import table_path

    print(Path(table_path(args.name, dest=args.dest)))
    return 0
