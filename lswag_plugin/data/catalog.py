"""The benchmark datasets ``lswag data`` fetches: each pinned to exact upstream bytes.

A :class:`Source` is one file of a public repository at one commit, with its sha256, size and licence.
A :class:`Dataset` is what a command reads (``--table nb201``): either one source as it is (NASLib's
zero-cost files) or a table built from several sources by a function of :mod:`lswag_plugin.data.build`.

Example:
    >>> from lswag_plugin.data.catalog import DATASETS
    >>> list(DATASETS)
    ['nb201', 'nb201-zc', 'nb101', 'nb301', 'autoformer-tiny']
    >>> [s.key for s in DATASETS["nb201"].sources]
    ['landscapes', 'bayeswatch', 'ctpe']
    >>> DATASETS["nb101"].sources[0].relpath
    'automl/NASLib/22280f711aa782fe9157d1b4e5ce4f83f47ab908/naslib/data/zc_nasbench101.json'
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from lswag_plugin.data.build import build_autoformer, build_nb201

__all__ = ["DATASETS", "SOURCES", "UPSTREAM", "Dataset", "Source", "dataset_names"]

#: Where every source lives upstream: ``UPSTREAM + Source.relpath`` (a mirror keeps the same layout).
UPSTREAM = "https://raw.githubusercontent.com/"


@dataclass(frozen=True)
class Source:
    """One upstream file, pinned by commit and sha256.

    Args:
        key: Short name the builder uses (``"landscapes"``).
        repo: ``owner/name`` on GitHub.
        commit: The full commit hash.
        path: The file's path in the repository.
        sha256: Hex digest of the exact bytes.
        size: Size in bytes.
        licence: SPDX identifier of the repository's licence.

    Example:
        >>> s = Source("t", "a/b", "c0ffee", "d/e.json", "0" * 64, 10, "MIT")
        >>> s.relpath, s.url
        ('a/b/c0ffee/d/e.json', 'https://raw.githubusercontent.com/a/b/c0ffee/d/e.json')
    """

    key: str
    repo: str
    commit: str
    path: str
    sha256: str
    size: int
    licence: str

    @property
    def relpath(self) -> str:
        """``<owner>/<repo>/<commit>/<path>``: the file's place upstream, in a mirror and on disk."""
        return f"{self.repo}/{self.commit}/{self.path}"

    @property
    def url(self) -> str:
        """The upstream URL (raw.githubusercontent.com)."""
        return UPSTREAM + self.relpath


#: A builder reads the verified sources (by key) and writes the table at the given path.
Builder = Callable[[Mapping[str, Path], Path], None]


@dataclass(frozen=True)
class Dataset:
    """A table ``lswag`` reads, and how it is made from its sources.

    Args:
        name: The name commands take (``--table nb201``).
        description: What it holds (one line).
        sources: The pinned files it is made from.
        filename: Where the built table lives under the data home; None: the one source is the table,
            used as it is.
        builder: Writes the table from the sources (None with ``filename`` None).
        version: Bumped when the builder's output changes, so tables built before are built again.
        needs: Python modules the builder imports (checked before anything is downloaded), with the
            pip requirement that provides them.

    Example:
        >>> DATASETS["nb201-zc"].filename is None, DATASETS["nb201"].filename
        (True, 'nb201/nb201_accuracy.csv')
    """

    name: str
    description: str
    sources: tuple[Source, ...]
    filename: str | None = None
    builder: Builder | None = None
    version: int = 1
    needs: tuple[tuple[str, str], ...] = ()

    @property
    def size(self) -> int:
        """Bytes to download (all sources)."""
        return sum(s.size for s in self.sources)

    @property
    def licences(self) -> str:
        """The sources' licences, comma-separated."""
        return ", ".join(dict.fromkeys(s.licence for s in self.sources))


SOURCES: dict[str, Source] = {
    s.key: s
    for s in (
        Source(
            "landscapes",
            "gabro8a/NAS-Landscapes",
            "abd5221948d901f765e3bc61d0175a3c1c52b802",
            "data/accuracy/cifar10_avg.csv",
            "1fc89edb42c804223ea2f520a3a65b5e10d8c34bc2d1bbca6bc4b4b38a193827",
            4050037,
            "MIT",
        ),
        Source(
            "bayeswatch",
            "BayesWatch/nas-without-training",
            "a1aa24c257741db0a049e4f126be67ffb1adc2dc",
            "results/arch_score_acc.pd",
            "b4c8100236e04f8229a551e509dca144005af15873c3230c980a99afee1569fd",
            2132531,
            "MIT",
        ),
        Source(
            "ctpe",
            "nabenabe0928/constrained-tpe",
            "2476ed022c56c07856d19dc9f7636d20453f008c",
            "targets/nasbench201/metric_vals.pkl",
            "f912d67de5e800e7121bb9faecf596aa2a9b950d0b8432493a85607c224a2228",
            2838764,
            "Apache-2.0",
        ),
        Source(
            "nb201-zc",
            "automl/NASLib",
            "1bdbd960ee3e08b4b71dfbae57ff4d4e43ec25c1",
            "naslib/data/zc_nasbench201.json",
            "80e131a5f2cd0320bd5524945a9df9f7a115a642654644f909e879f747fb3c4a",
            1962205,
            "Apache-2.0",
        ),
        Source(
            "nb101",
            "automl/NASLib",
            "22280f711aa782fe9157d1b4e5ce4f83f47ab908",
            "naslib/data/zc_nasbench101.json",
            "c34840bc9af68b6ebaa7f052e42c1749a9a737d7243078be2a5548052bc5a0c2",
            259564,
            "Apache-2.0",
        ),
        Source(
            "nb301",
            "automl/NASLib",
            "6639fd1579010457885c641553c55b0c153045aa",
            "naslib/data/zc_nasbench301.json",
            "537e9abd6f0b14fdffdfcb3c07b18a037647b5c80808b3b2cf9a51b1b491aba1",
            820765,
            "Apache-2.0",
        ),
        Source(
            "autoformer",
            "lliai/Auto-Prox-AAAI24",
            "90ed458eff6948a6f0d23e440a8d21bbec50d091",
            "gt_results/gt_autoformer.pth",
            "712ad277546d9f7f565ce07885be7e0b98dcd8d0724fdd1120f595b517436eca",
            26671,
            "Apache-2.0",
        ),
    )
}

_PANDAS = (("pandas", "pandas>=1.5"),)

DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in (
        Dataset(
            "nb201",
            "NAS-Bench-201: all 15,625 cells, #params and CIFAR-10/100 accuracies (CSV)",
            (SOURCES["landscapes"], SOURCES["bayeswatch"], SOURCES["ctpe"]),
            filename="nb201/nb201_accuracy.csv",
            builder=build_nb201,
            needs=_PANDAS,
        ),
        Dataset(
            "nb201-zc",
            "NAS-Bench-Suite-Zero: published proxy scores of NB201 cells (NASLib JSON)",
            (SOURCES["nb201-zc"],),
        ),
        Dataset(
            "nb101",
            "NAS-Bench-Suite-Zero: 500 NB101 cells, accuracies and proxy scores (NASLib JSON)",
            (SOURCES["nb101"],),
        ),
        Dataset(
            "nb301",
            "NAS-Bench-Suite-Zero: 725 NB301/DARTS cells, accuracies and proxy scores (NASLib JSON)",
            (SOURCES["nb301"],),
        ),
        Dataset(
            "autoformer-tiny",
            "Auto-Prox: 100 trained AutoFormer-Tiny ViTs and their accuracies (JSON)",
            (SOURCES["autoformer"],),
            filename="autoformer/autoformer_tiny_100.json",
            builder=build_autoformer,
        ),
    )
}


def dataset_names() -> list[str]:
    """Returns the dataset names, in catalogue order.

    Example:
        >>> "nb201" in dataset_names()
        True
    """
    return list(DATASETS)
