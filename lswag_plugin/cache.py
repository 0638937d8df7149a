"""A persistent score cache (SQLite from the standard library), shared by bench, search, compare, band,
Optuna and NNI.

A score is keyed by everything that determines it: the space, the architecture's canonical string, the
proxy, a fingerprint of the batch, the seed, the image size and a version string (the package version
plus a hash of the scoring settings, see :func:`cache_version`). Keys are made in one place,
:meth:`lswag_plugin.engine.ScoringConfig.cache_key`; this module only stores them. Values are stored as the 8 bytes of the
IEEE double, so NaN and ±inf come back exactly.

Concurrency: the database is in WAL mode with a busy timeout, and every :meth:`ScoreCache.put_many` is one
``BEGIN IMMEDIATE`` transaction, so several processes can score the same table into the same file; a
writer killed mid-write leaves no partial row (SQLite rolls the transaction back on the next open).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from lswag_plugin._version import __version__
from lswag_plugin.errors import CacheError

__all__ = ["CACHE_DIR_ENV", "CacheError", "CacheKey", "CacheStats", "ScoreCache", "cache_version"]

#: Environment variable naming the folder of the default cache file ``scores.sqlite``.
CACHE_DIR_ENV = "LSWAG_CACHE_DIR"
_SCHEMA_VERSION = 2
_NO_RESOLUTION = -1  # SQLite treats NULLs in a primary key as distinct: store None as -1.
_COLUMNS = ("space", "arch", "proxy", "data", "seed", "resolution", "version")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS scores (
    space TEXT NOT NULL,
    arch TEXT NOT NULL,
    proxy TEXT NOT NULL,
    data TEXT NOT NULL,
    seed INTEGER NOT NULL,
    resolution INTEGER NOT NULL,
    version TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (space, arch, proxy, data, seed, resolution, version)
) WITHOUT ROWID
"""
#: Seconds one engine call took to score a group of proxies on one architecture (version 2).
_TIMINGS = """
CREATE TABLE IF NOT EXISTS timings (
    space TEXT NOT NULL,
    arch TEXT NOT NULL,
    proxy TEXT NOT NULL,
    data TEXT NOT NULL,
    seed INTEGER NOT NULL,
    resolution INTEGER NOT NULL,
    version TEXT NOT NULL,
    grp TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (space, arch, proxy, data, seed, resolution, version, grp)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS timings_by_group ON timings (grp, space, proxy, data, seed, resolution, version)
"""


@dataclass(frozen=True)
class CacheKey:
    """Everything that determines one score.

    Attributes:
        space: Search-space name (``"nb201"``, ``"autoformer-t"``) or another namespace (``"timm"``).
        arch: The architecture's canonical string (``space.encode(arch)``).
        proxy: Proxy name.
        data: Fingerprint of the batch (``lswag_plugin.data.batch_fingerprint``).
        seed: Seed of the batch and of the initialisation.
        resolution: The batch's image size (None for inputs that are not images).
        version: ``lswag_plugin.__version__`` plus a hash of the scoring settings (:func:`cache_version`).
    """

    space: str
    arch: str
    proxy: str
    data: str
    seed: int
    resolution: int | None
    version: str

    def _row(self) -> tuple[Any, ...]:
        res = _NO_RESOLUTION if self.resolution is None else int(self.resolution)
        return (self.space, self.arch, self.proxy, self.data, int(self.seed), res, self.version)


@dataclass(frozen=True)
class CacheStats:
    """Lookups answered from the cache (``hits``), not found (``misses``) and values written."""

    hits: int = 0
    misses: int = 0
    writes: int = 0


def cache_version(options: Mapping[str, Any] | None = None) -> str:
    """Returns ``"<package version>+<hash of options>"``, the ``version`` field of a :class:`CacheKey`.

    ``options`` is anything JSON-able that changes the scores (per-proxy options, minibatches, layer band,
    init scheme); equal options give equal versions whatever the key order.

    Example:
        >>> cache_version({"minibatches": 2}) == cache_version({"minibatches": 2})
        True
    """
    text = json.dumps(options or {}, sort_keys=True, separators=(",", ":"), default=str)
    return f"{__version__}+{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def default_cache_path() -> Path:
    """Returns ``$LSWAG_CACHE_DIR/scores.sqlite``, else ``~/.cache/lswag_plugin/scores.sqlite``."""
    folder = os.environ.get(CACHE_DIR_ENV)
    base = Path(folder) if folder else Path.home() / ".cache" / "lswag_plugin"
    return base / "scores.sqlite"


def _pack(value: float) -> bytes:
    return struct.pack("<d", float(value))


def _unpack(blob: bytes) -> float:
    return struct.unpack("<d", blob)[0]


class ScoreCache:
    """A persistent map from :class:`CacheKey` to a score, safe for several processes at once.

    Args:
        path: The SQLite file; None for :func:`default_cache_path`; ``":memory:"`` for a private
            in-memory cache.
        timeout: Seconds a writer waits for another process's transaction before failing.

    Raises:
        CacheError: The file is not a score cache (corrupt, or another kind of file); the message names
            the path and the fix (delete it: the cache only holds scores that can be recomputed).

    Example:
        >>> from lswag_plugin.cache import CacheKey, ScoreCache
        >>> key = CacheKey("nb201", "|none~0|+|none~0|none~1|+|none~0|none~1|none~2|", "nwot", "ab12", 0, 32, "0.1.0")
        >>> with ScoreCache(":memory:") as cache:
        ...     cache.put(key, float("-inf"))
        ...     cache.get(key), len(cache), cache.stats.hits
        (-inf, 1, 1)
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, timeout: float = 60.0
    ) -> None:
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        memory = isinstance(path, str) and path == ":memory:"
        self.path: Path | str = ":memory:" if memory else Path(path or default_cache_path())
        self._hits = self._misses = self._writes = 0
        if not memory:
            try:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CacheError(
                    f"cannot create the score cache folder {Path(self.path).parent}: {exc}; "
                    f"pass another path or set ${CACHE_DIR_ENV}"
                ) from exc
        try:
            self._conn: sqlite3.Connection | None = sqlite3.connect(
                str(self.path), timeout=timeout, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise self._error(exc) from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not memory:
                self._conn.execute("PRAGMA journal_mode = WAL")
                self._conn.execute("PRAGMA synchronous = NORMAL")
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            self._conn = None
            raise self._error(exc) from exc

    def _error(self, exc: BaseException) -> CacheError:
        if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
            return CacheError(
                f"score cache {self.path} stayed locked by another process ({exc}); "
                "retry, or raise ScoreCache(timeout=...)"
            )
        return CacheError(
            f"score cache {self.path} is unreadable or not a score cache ({exc}); delete it "
            f"(rm {self.path}*) and re-run: the cache only holds scores that can be recomputed"
        )

    def _init_schema(self) -> None:
        conn = self._connection()
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version not in (0, 1, _SCHEMA_VERSION):
            raise sqlite3.DatabaseError(
                f"schema version {version}, this lswag_plugin reads version {_SCHEMA_VERSION}"
            )
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if version == _SCHEMA_VERSION and {"scores", "timings"} <= tables:
            return
        if version == 0 and tables - {"scores", "timings"}:
            raise sqlite3.DatabaseError(
                f"an SQLite file with other tables ({', '.join(sorted(tables))})"
            )
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_SCHEMA)  # version 1 files keep their scores and gain the timings table
            for statement in _TIMINGS.split(";"):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        columns = [r[1] for r in conn.execute("PRAGMA table_info(scores)")]
        if columns[: len(_COLUMNS)] != list(_COLUMNS):
            raise sqlite3.DatabaseError(f"table 'scores' has columns {columns}")

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise CacheError(f"score cache {self.path} is closed; open a new ScoreCache")
        return self._conn

    def get_many(self, keys: Sequence[CacheKey]) -> dict[CacheKey, float]:
        """Returns the cached scores of ``keys`` (only the hits; a missing key is absent)."""
        conn = self._connection()
        unique = list(dict.fromkeys(keys))
        found: dict[CacheKey, float] = {}
        where = " AND ".join(f"{c} = ?" for c in _COLUMNS)
        sql = f"SELECT value FROM scores WHERE {where}"  # a primary-key lookup per key
        try:
            conn.execute("BEGIN")  # one consistent snapshot for the whole lookup
            try:
                for key in unique:
                    row = conn.execute(sql, key._row()).fetchone()
                    if row is not None:
                        found[key] = _unpack(row[0])
            finally:
                conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        self._hits += len(found)
        self._misses += len(unique) - len(found)
        return found

    def get_components(self, keys: Sequence[CacheKey]) -> dict[str, float]:
        """Returns the stored sub-scores of each key's proxy: ``"<proxy>.<part>"`` → value.

        A proxy's sub-scores (e.g. ``lswag.lambda``) are stored under its key with the proxy field
        ``"<proxy>.<part>"``; this reads every one stored for ``keys`` (by range on the primary key).

        Example:
            >>> from dataclasses import replace
            >>> from lswag_plugin.cache import CacheKey, ScoreCache
            >>> key = CacheKey("nb201", "a", "lswag", "ab12", 0, 32, "0.1.0")
            >>> with ScoreCache(":memory:") as cache:
            ...     cache.put_many({key: 6.0, replace(key, proxy="lswag.psi"): 3.0})
            ...     cache.get_components([key])
            {'lswag.psi': 3.0}
        """
        conn = self._connection()
        sql = (
            "SELECT proxy, value FROM scores WHERE space = ? AND arch = ? AND proxy > ? AND "
            "proxy < ? AND data = ? AND seed = ? AND resolution = ? AND version = ?"
        )
        found: dict[str, float] = {}
        try:
            for key in dict.fromkeys(keys):
                space, arch, proxy, *rest = key._row()
                # "<proxy>." < "<proxy>.<part>" < "<proxy>/": "/" follows "." in every collation.
                for name, value in conn.execute(
                    sql, (space, arch, f"{proxy}.", f"{proxy}/", *rest)
                ):
                    found[name] = _unpack(value)
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        return found

    def put_many(
        self,
        items: Mapping[CacheKey, float],
        *,
        timing: tuple[CacheKey, str, float] | None = None,
    ) -> None:
        """Stores ``items`` (key → score) in one transaction: all of them or, if interrupted, none.

        Args:
            items: Key → score.
            timing: ``(key, group, seconds)``: the seconds the engine call that computed these scores
                took, for the proxy group ``group`` (names joined by ``+``), stored under ``key``
                (one of the group's keys) in the same transaction.
        """
        conn = self._connection()
        placeholders = ", ".join("?" * (len(_COLUMNS) + 1))
        sql = (
            f"INSERT OR REPLACE INTO scores ({', '.join(_COLUMNS)}, value) VALUES ({placeholders})"
        )
        written = 0
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for key, value in items.items():
                    conn.execute(sql, (*key._row(), _pack(value)))
                    written += 1
                if timing is not None:
                    key, group, seconds = timing
                    conn.execute(
                        f"INSERT OR REPLACE INTO timings ({', '.join(_COLUMNS)}, grp, seconds) "
                        f"VALUES ({', '.join('?' * (len(_COLUMNS) + 2))})",
                        (*key._row(), group, float(seconds)),
                    )
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        self._writes += written

    def get_timings(self, keys: Sequence[CacheKey], group: str) -> dict[CacheKey, float]:
        """Returns the stored seconds of ``group``'s engine call for each key that has them."""
        conn = self._connection()
        where = " AND ".join(f"{c} = ?" for c in _COLUMNS)
        sql = f"SELECT seconds FROM timings WHERE {where} AND grp = ?"
        found: dict[CacheKey, float] = {}
        try:
            for key in dict.fromkeys(keys):
                row = conn.execute(sql, (*key._row(), group)).fetchone()
                if row is not None:
                    found[key] = float(row[0])
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        return found

    def timings_like(self, key: CacheKey, group: str) -> list[float]:
        """Returns the seconds of ``group`` stored for every architecture scored with ``key``'s settings."""
        sql = (
            "SELECT seconds FROM timings WHERE grp = ? AND space = ? AND proxy = ? AND data = ? "
            "AND seed = ? AND resolution = ? AND version = ?"
        )
        row = key._row()
        try:
            rows = self._connection().execute(sql, (group, row[0], *row[2:])).fetchall()
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc
        return [float(r[0]) for r in rows]

    def get(self, key: CacheKey) -> float | None:
        """Returns the cached score of ``key``, or None."""
        return self.get_many([key]).get(key)

    def put(self, key: CacheKey, value: float) -> None:
        """Stores one score."""
        self.put_many({key: value})

    def __len__(self) -> int:
        try:
            return int(self._connection().execute("SELECT COUNT(*) FROM scores").fetchone()[0])
        except sqlite3.DatabaseError as exc:
            raise self._error(exc) from exc

    def __iter__(self) -> Iterator[CacheKey]:
        rows = self._connection().execute(f"SELECT {', '.join(_COLUMNS)} FROM scores").fetchall()
        for space, arch, proxy, data, seed, res, version in rows:
            yield CacheKey(
                space, arch, proxy, data, seed, None if res == _NO_RESOLUTION else res, version
            )

    @property
    def stats(self) -> CacheStats:
        """Hits, misses and writes of this object since it was opened."""
        return CacheStats(hits=self._hits, misses=self._misses, writes=self._writes)

    def close(self) -> None:
        """Closes the database (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> ScoreCache:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ScoreCache({str(self.path)!r})"
