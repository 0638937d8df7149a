"""Where the benchmark datasets live on disk and how they get there.

Every source is downloaded with pooch (a registry of URL + sha256, retries, a temporary file renamed into
place only once its hash matches) into ``<data home>/sources/<owner>/<repo>/<commit>/<path>``; a file is
used only after its sha256 matches the pin, and a file that does not match is deleted
(:class:`~lswag_plugin.errors.ChecksumMismatch` names it, the pinned and the received hash). A built
table is written atomically beside a ``.sources.json`` record of the source hashes, builder version and
its own hash, so a table built from other bytes (or half written, or edited) is built again.

- Data home: ``dest=`` (``--dest``), else ``$LSWAG_DATA_HOME``, else the platform's user data folder
  (platformdirs, e.g. ``~/.local/share/lswag_plugin``).
- Mirror: ``$LSWAG_DATA_MIRROR`` replaces ``https://raw.githubusercontent.com/`` for every source, as a
  URL or as a local folder (or ``file://`` URL), laid out ``<owner>/<repo>/<commit>/<path>``.

Example:
    >>> import tempfile
    >>> home = tempfile.mkdtemp()
    >>> is_fetched("nb201", dest=home)
    False
    >>> table_path("nb201", dest=home, download=False)
    Traceback (most recent call last):
    ...
    lswag_plugin.errors.DataUnavailable: nb201 is not fetched into ...: run `lswag data fetch nb201`
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import re
import shutil
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from lswag_plugin.data import catalog
from lswag_plugin.data.build import atomic_writer
from lswag_plugin.data.catalog import Dataset, Source
from lswag_plugin.errors import ChecksumMismatch, DataUnavailable, UnknownDataset

__all__ = [
    "DATA_HOME_ENV",
    "MIRROR_ENV",
    "data_home",
    "fetch",
    "is_fetched",
    "mirror",
    "resolve_table",
    "sha256_file",
    "table_path",
]

DATA_HOME_ENV = "LSWAG_DATA_HOME"
MIRROR_ENV = "LSWAG_DATA_MIRROR"
#: Download attempts after the first, on a network error (pooch waits 1 s, 2 s... between them).
RETRIES = 2
#: Seconds without an answer before a connection or a read fails.
TIMEOUT_S = 30
_SIDECAR = ".sources.json"


def data_home(dest: str | os.PathLike[str] | None = None) -> Path:
    """Returns the folder that holds the datasets: ``dest``, else ``$LSWAG_DATA_HOME``, else the
    platform's user data folder.

    Example:
        >>> data_home("/tmp/lswag-data")
        PosixPath('/tmp/lswag-data')
    """
    if dest is not None:
        return Path(dest).expanduser()
    env = os.environ.get(DATA_HOME_ENV)
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("lswag_plugin", appauthor=False))


def mirror() -> tuple[str, Path | None]:
    """Returns (base URL, local folder or None) of ``$LSWAG_DATA_MIRROR``, or upstream's base.

    Example:
        >>> os.environ[MIRROR_ENV] = "https://mirror.example.org/raw"
        >>> mirror()
        ('https://mirror.example.org/raw/', None)
        >>> os.environ[MIRROR_ENV] = "file:///srv/lswag-mirror"
        >>> mirror()
        ('file:///srv/lswag-mirror/', PosixPath('/srv/lswag-mirror'))
        >>> del os.environ[MIRROR_ENV]
    """
    value = os.environ.get(MIRROR_ENV, "").strip()
    if not value:
        return catalog.UPSTREAM, None
    if value.startswith("file:"):
        folder = Path(url2pathname(urlparse(value).path))
        return folder.as_uri() + "/", folder
    if "://" in value:
        return value.rstrip("/") + "/", None
    folder = Path(value).expanduser().resolve()
    return folder.as_uri() + "/", folder


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Returns the hex sha256 of a file."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _dataset(name: str) -> Dataset:
    if name not in catalog.DATASETS:
        raise UnknownDataset("dataset", name, catalog.DATASETS, hint="see `lswag data list`")
    return catalog.DATASETS[name]


def _source_path(source: Source, home: Path) -> Path:
    return home / "sources" / source.relpath


def _sidecar(table: Path) -> Path:
    return table.with_name(table.name + _SIDECAR)


def _record(dataset: Dataset, table_sha256: str) -> dict[str, Any]:
    return {
        "dataset": dataset.name,
        "version": dataset.version,
        "sources": {s.relpath: s.sha256 for s in dataset.sources},
        "sha256": table_sha256,
    }


def _ready(dataset: Dataset, home: Path) -> Path | None:
    """Returns the dataset's table if it is on disk and verified, else None."""
    if dataset.filename is None:
        (source,) = dataset.sources
        path = _source_path(source, home)
        return path if path.is_file() and sha256_file(path) == source.sha256 else None
    table = home / dataset.filename
    try:
        record = json.loads(_sidecar(table).read_text())
        return table if record == _record(dataset, sha256_file(table)) else None
    except (OSError, ValueError):
        return None


def is_fetched(name: str, *, dest: str | os.PathLike[str] | None = None) -> bool:
    """Returns whether dataset ``name`` is on disk under the data home, verified (nothing downloaded)."""
    return _ready(_dataset(name), data_home(dest)) is not None


def table_path(
    name: str,
    *,
    dest: str | os.PathLike[str] | None = None,
    download: bool = True,
    progress: bool | None = None,
) -> Path:
    """Returns the path of dataset ``name``'s table, fetching and building it on first use.

    Args:
        name: A dataset name (``lswag data list``): ``nb201``, ``nb201-zc``, ``nb101``, ``nb301``,
            ``autoformer-tiny``.
        dest: The data home (default ``$LSWAG_DATA_HOME`` or the platform's user data folder).
        download: False: raise instead of downloading what is missing.
        progress: Show download progress bars on stderr (None: when stderr is a terminal).

    Raises:
        UnknownDataset: Not a dataset name.
        DataUnavailable: Not fetched and it cannot be now (no network, a missing package, an unwritable
            folder); the message names the fix (``lswag data fetch NAME``, ``$LSWAG_DATA_MIRROR``).
        ChecksumMismatch: A downloaded file is not the pinned bytes (it is deleted).
        BadData: The sources are not in the format the builder reads.
    """
    dataset = _dataset(name)
    home = data_home(dest)
    ready = _ready(dataset, home)
    if ready is not None:
        return ready
    if not download:
        raise DataUnavailable(f"{name} is not fetched into {home}: run `lswag data fetch {name}`")
    return _make(dataset, home, progress)


def fetch(
    names: Iterable[str],
    *,
    dest: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
) -> dict[str, Path]:
    """Fetches (and builds) each dataset of ``names`` (``"all"``: every one); returns name → path.

    What is already there and verified is neither downloaded nor built again. Every name is checked
    before anything is downloaded.

    Raises:
        UnknownDataset: A name that is not a dataset.
        DataUnavailable: See :func:`table_path`.
    """
    wanted: list[str] = []
    for name in names:
        for n in catalog.dataset_names() if name == "all" else [name]:
            _dataset(n)
            if n not in wanted:
                wanted.append(n)
    return {n: table_path(n, dest=dest, progress=progress) for n in wanted}


def resolve_table(spec: str) -> tuple[Path, str | None] | None:
    """Returns (path, dataset) of ``NAME`` or ``NAME#DATASET`` when NAME is a dataset name, else None.

    The table is fetched on first use (:func:`table_path`).

    Example:
        >>> resolve_table("../results/scores.csv") is None
        True
    """
    name, sep, part = spec.partition("#")
    if name not in catalog.DATASETS:
        return None
    return table_path(name), (part if sep else None)


# --- fetching ---------------------------------------------------------------------------------


def _check_needs(dataset: Dataset) -> None:
    for module, requirement in dataset.needs:
        if importlib.util.find_spec(module) is None:
            raise DataUnavailable(
                f"building {dataset.name} needs {module}: pip install '{requirement}' "
                "(or the 'data' extra: pip install 'lswag-plugin[data]')"
            )


def _make(dataset: Dataset, home: Path, progress: bool | None) -> Path:
    _check_needs(dataset)
    paths = {s.key: _fetch_source(s, home, dataset.name, progress) for s in dataset.sources}
    if dataset.filename is None or dataset.builder is None:
        return paths[dataset.sources[0].key]
    table = home / dataset.filename
    try:
        dataset.builder(paths, table)
        record = _record(dataset, sha256_file(table))
        with atomic_writer(_sidecar(table)) as f:
            json.dump(record, f, indent=1)
    except OSError as exc:
        raise _unwritable(home, exc) from exc
    return table


def _unwritable(home: Path, exc: OSError) -> DataUnavailable:
    return DataUnavailable(
        f"cannot write into {home} ({exc.strerror or exc}): pass --dest DIR or set {DATA_HOME_ENV}"
    )


def _reason(exc: BaseException) -> str:
    """A short one-line reason of a network error (requests' messages run over several lines)."""
    text = " ".join(str(exc).split())
    cause = re.search(r"Caused by (\w+)", text)
    if cause:
        return f"{type(exc).__name__} ({cause.group(1)})"
    return f"{type(exc).__name__}: {text[:160]}"


class _LazyBar:
    """A tqdm bar made when pooch learns the size (so a failed request prints no empty bar)."""

    def __init__(self, desc: str) -> None:
        self._desc = desc
        self._bar: Any = None

    @property
    def total(self) -> int | None:
        return None if self._bar is None else self._bar.total

    @total.setter
    def total(self, value: int) -> None:
        from tqdm.auto import tqdm

        self._bar = tqdm(
            total=value or None,
            desc=self._desc,
            unit="B",
            unit_scale=True,
            file=sys.stderr,
            dynamic_ncols=True,
        )

    def update(self, n: int) -> None:
        self._bar.update(n)

    def reset(self) -> None:
        self._bar.reset()

    def close(self) -> None:
        self._bar.close()


class _Downloader:
    """pooch downloader: HTTP(S) with a progress bar, or a copy from a mirror folder; then sha256.

    A mismatch raises :class:`ChecksumMismatch` inside pooch's temporary-file block, so the bytes are
    deleted and nothing is retried or moved into place.
    """

    def __init__(self, source: Source, folder: Path | None, name: str, progress: bool) -> None:
        self.source, self.folder, self.name, self.progress = source, folder, name, progress

    def __call__(self, url: str, output_file: str, pooch_obj: Any, check_only: bool = False) -> Any:
        if self.folder is not None:
            origin = self.folder / self.source.relpath
            if not origin.is_file():
                raise DataUnavailable(
                    f"{self.name}: the mirror folder {self.folder} ({MIRROR_ENV}) has no "
                    f"{self.source.relpath}; put the file there or unset {MIRROR_ENV}"
                )
            url = str(origin)
            shutil.copyfile(origin, output_file)
        else:
            import pooch

            bar = (
                _LazyBar(f"{self.name}: {Path(self.source.path).name}") if self.progress else False
            )
            pooch.HTTPDownloader(progressbar=bar, timeout=TIMEOUT_S)(url, output_file, pooch_obj)
        actual = sha256_file(output_file)
        if actual != self.source.sha256:
            raise ChecksumMismatch(
                self.source.relpath,
                self.source.sha256,
                actual,
                hint=f"received from {url} (is {MIRROR_ENV} a faithful mirror?)",
            )


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    import pooch

    logger = pooch.get_logger()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def _fetch_source(source: Source, home: Path, name: str, progress: bool | None) -> Path:
    """Returns the verified local copy of ``source``, downloading it if missing or not the pinned bytes."""
    target = _source_path(source, home)
    if target.is_file():
        if sha256_file(target) == source.sha256:
            return target
        target.unlink()  # never used: the pin says these are not the right bytes
    import pooch
    import requests

    base, folder = mirror()
    show = sys.stderr.isatty() if progress is None else progress
    pup = pooch.create(
        path=home / "sources",
        base_url=base,
        registry={source.relpath: f"sha256:{source.sha256}"},
        retry_if_failed=RETRIES,
    )
    downloader = _Downloader(source, folder, name, show)
    try:
        with _quiet_pooch():
            return Path(pup.fetch(source.relpath, downloader=downloader))
    except requests.RequestException as exc:
        where = urlparse(base).netloc or base
        raise DataUnavailable(
            f"cannot download {name} from {where}: {_reason(exc)}; run `lswag data fetch {name}` "
            f"where the network is reachable, or set {MIRROR_ENV} to a mirror URL or folder"
        ) from exc
    except OSError as exc:  # the data home cannot be made or written (permissions, read-only disk)
        raise _unwritable(home, exc) from exc
    except ValueError as exc:  # pooch's own hash check (ours runs first); one line all the same
        raise DataUnavailable(f"{name}: {' '.join(str(exc).split())}") from exc
