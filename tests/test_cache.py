"""The SQLite score cache: keys, exact values, stats, default path, corruption, concurrency, crashes."""

from __future__ import annotations

import math
import os
import sqlite3
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lswag_plugin import LswagError, __version__
from lswag_plugin.cache import CacheError, CacheKey, CacheStats, ScoreCache, cache_version


def key(i: int = 0, **change) -> CacheKey:
    fields = {
        "space": "nb201",
        "arch": f"arch-{i}",
        "proxy": "lswag",
        "data": "fp",
        "seed": 0,
        "resolution": 32,
        "version": "0.1.0+abc",
    }
    return CacheKey(**{**fields, **change})


def test_put_get_round_trip_and_stats(tmp_path: Path) -> None:
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        assert len(cache) == 0 and cache.get(key()) is None
        cache.put_many({key(i): i * 0.5 for i in range(10)})
        cache.put(key(99), 1e300)
        found = cache.get_many([key(1), key(5), key(50), key(99), key(1)])
        assert found == {key(1): 0.5, key(5): 2.5, key(99): 1e300}
        assert cache.stats == CacheStats(hits=3, misses=2, writes=11)  # the first get missed too
        assert len(cache) == 11
        assert set(cache) == {*(key(i) for i in range(10)), key(99)}


def test_every_field_is_part_of_the_key() -> None:
    base = key()
    variants = [
        key(space="autoformer-t"),
        key(arch="other"),
        key(proxy="swap"),
        key(data="fp2"),
        key(seed=1),
        key(resolution=64),
        key(resolution=None),
        key(version="0.2.0+abc"),
    ]
    with ScoreCache(":memory:") as cache:
        cache.put(base, 1.0)
        cache.put_many({v: float(i + 2) for i, v in enumerate(variants)})
        assert len(cache) == 1 + len(variants)
        assert cache.get(base) == 1.0
        assert [cache.get(v) for v in variants] == [float(i + 2) for i in range(len(variants))]


def test_resolution_none_is_one_key_not_duplicates() -> None:
    with ScoreCache(":memory:") as cache:
        cache.put(key(resolution=None), 1.0)
        cache.put(key(resolution=None), 2.0)
        assert len(cache) == 1 and cache.get(key(resolution=None)) == 2.0
        assert next(iter(cache)).resolution is None


def test_nan_and_infinities_are_stored_exactly(tmp_path: Path) -> None:
    odd_nan = struct.unpack("<d", struct.pack("<Q", 0x7FF8_0000_DEAD_BEEF))[0]
    values = {key(0): math.nan, key(1): math.inf, key(2): -math.inf, key(3): -0.0, key(4): odd_nan}
    path = tmp_path / "c.sqlite"
    with ScoreCache(path) as cache:
        cache.put_many(values)
    with ScoreCache(path) as cache:
        back = cache.get_many(list(values))
    assert len(back) == 5
    for k, v in values.items():
        assert struct.pack("<d", back[k]) == struct.pack("<d", v)


def test_persists_across_opens_and_uses_wal(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "c.sqlite"
    with ScoreCache(path) as cache:
        cache.put(key(), 3.0)
    with ScoreCache(str(path)) as cache:
        assert cache.get(key()) == 3.0
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_default_path_follows_env_then_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LSWAG_CACHE_DIR", str(tmp_path / "envdir"))
    with ScoreCache() as cache:
        assert cache.path == tmp_path / "envdir" / "scores.sqlite"
    assert (tmp_path / "envdir" / "scores.sqlite").exists()
    monkeypatch.delenv("LSWAG_CACHE_DIR")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    with ScoreCache() as cache:
        assert cache.path == tmp_path / "home" / ".cache" / "lswag_plugin" / "scores.sqlite"


def test_memory_cache_is_private() -> None:
    with ScoreCache(":memory:") as a, ScoreCache(":memory:") as b:
        a.put(key(), 1.0)
        assert b.get(key()) is None and len(a) == 1


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all, just text" * 200, b"SQLite format 3\x00" + b"\xff" * 4000],
)
def test_corrupt_file_raises_typed_error_and_keeps_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "scores.sqlite"
    path.write_bytes(content)
    with pytest.raises(CacheError, match="delete it") as info:
        ScoreCache(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, LswagError)
    assert path.read_bytes() == content  # never a silent wipe


def test_foreign_sqlite_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE users (name TEXT)")
    conn.commit()
    conn.close()
    with pytest.raises(CacheError, match="not a score cache"):
        ScoreCache(path)
    conn = sqlite3.connect(path)
    assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master")] == ["users"]
    conn.close()


def test_closed_cache_and_bad_timeout() -> None:
    cache = ScoreCache(":memory:")
    cache.close()
    cache.close()
    with pytest.raises(CacheError, match="closed"):
        cache.get(key())
    with pytest.raises(ValueError, match="timeout"):
        ScoreCache(":memory:", timeout=0)


def test_failed_put_many_stores_nothing(tmp_path: Path) -> None:
    with ScoreCache(tmp_path / "c.sqlite") as cache:
        cache.put(key(0), 1.0)
        bad = {key(1): 2.0, key(2): "not a number", key(3): 4.0}
        with pytest.raises(ValueError):
            cache.put_many(bad)  # type: ignore[arg-type]
        assert len(cache) == 1 and cache.get(key(1)) is None
        cache.put(key(1), 2.0)  # still usable
        assert len(cache) == 2


def test_cache_version_hashes_options() -> None:
    a = cache_version({"minibatches": 2, "band": [0, 9]})
    assert a == cache_version({"band": [0, 9], "minibatches": 2})
    assert a != cache_version({"minibatches": 3, "band": [0, 9]})
    assert a.split("+")[0] == __version__ and len(a.split("+")[1]) == 12


_WRITER = textwrap.dedent(
    """
    import os, sys, time
    from lswag_plugin.cache import CacheKey, ScoreCache
    path, name, go = sys.argv[1], sys.argv[2], sys.argv[3]
    while not os.path.exists(go):
        time.sleep(0.01)
    cache = ScoreCache(path)
    shared = [CacheKey("s", f"a{i}", "p", "d", 0, 32, "v") for i in range(300)]
    for round in range(8):
        cache.put_many({k: float(i) for i, k in enumerate(shared)})
        own = {CacheKey("s", f"{name}-{round}-{j}", "p", "d", 0, None, "v"): -1.0 for j in range(4)}
        cache.put_many(own)
        got = cache.get_many(shared)
        assert len(got) == 300 and all(got[k] == float(i) for i, k in enumerate(shared)), "bad read"
    cache.close()
    print("ok")
    """
)


def test_concurrent_writers_share_one_file(tmp_path: Path) -> None:
    path, go = tmp_path / "shared.sqlite", tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _WRITER, str(path), f"w{n}", str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(3)
    ]
    go.touch()
    results = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, results):
        assert p.returncode == 0, err
        assert out.strip() == "ok"
    with ScoreCache(path) as cache:
        assert len(cache) == 300 + 3 * 8 * 4
        shared = [CacheKey("s", f"a{i}", "p", "d", 0, 32, "v") for i in range(300)]
        assert cache.get_many(shared) == {k: float(i) for i, k in enumerate(shared)}


_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from collections.abc import Mapping
    from lswag_plugin.cache import CacheKey, ScoreCache

    class DiesWhileIterating(Mapping):
        def __init__(self, n):
            self.keys_ = [CacheKey("s", f"a{i}", "p", "d", 0, 32, "v") for i in range(n)]
        def __getitem__(self, k):
            return 1.0
        def __len__(self):
            return len(self.keys_)
        def __iter__(self):
            for i, k in enumerate(self.keys_):
                if i == 500:  # half the rows are already inserted in the open transaction
                    sys.stdout.flush()
                    os.kill(os.getpid(), signal.SIGKILL)
                yield k

    cache = ScoreCache(sys.argv[1])
    cache.put(CacheKey("s", "before", "p", "d", 0, 32, "v"), 7.0)
    print("committed", flush=True)
    cache.put_many(DiesWhileIterating(1000))
    print("unreachable")
    """
)


@pytest.mark.skipif(not hasattr(os, "kill") or sys.platform == "win32", reason="needs SIGKILL")
def test_killed_writer_leaves_no_partial_rows(tmp_path: Path) -> None:
    path = tmp_path / "killed.sqlite"
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == -9, proc.stderr
    assert proc.stdout.strip() == "committed"
    with ScoreCache(path) as cache:
        assert len(cache) == 1
        assert cache.get(CacheKey("s", "before", "p", "d", 0, 32, "v")) == 7.0
        cache.put(CacheKey("s", "a0", "p", "d", 0, 32, "v"), 1.0)
        assert len(cache) == 2
