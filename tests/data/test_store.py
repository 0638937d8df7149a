"""Fetching: pinned hashes, atomic files, mirrors (URL and folder), no network, nothing fetched twice."""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from lswag_plugin.bench.tables import read_table
from lswag_plugin.data import catalog, data_home, fetch, is_fetched, store, table_path
from lswag_plugin.errors import ChecksumMismatch, DataUnavailable, UnknownDataset


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_fetch_over_http_builds_every_table_and_never_twice(http_mirror, synthetic, tmp_path):
    paths = fetch(["all"])
    home = tmp_path / "home"
    assert list(paths) == ["nb201", "nb201-zc", "autoformer-tiny"]
    assert paths["nb201"] == home / "nb201" / "nb201_accuracy.csv"
    assert paths["autoformer-tiny"].read_text() == json.dumps(synthetic.autoformer, indent=0)
    zc = synthetic.datasets["nb201-zc"].sources[0]
    assert paths["nb201-zc"] == home / "sources" / zc.relpath
    assert paths["nb201-zc"].read_bytes() == synthetic.files["naslib"]
    assert len(http_mirror.requests) == 5
    record = json.loads((home / "nb201" / "nb201_accuracy.csv.sources.json").read_text())
    assert record["sources"] == {s.relpath: s.sha256 for s in synthetic.datasets["nb201"].sources}
    assert fetch(["nb201", "all"]) == paths
    assert len(http_mirror.requests) == 5  # a second fetch downloads nothing
    assert all(is_fetched(name) for name in paths)


def test_hash_mismatch_deletes_the_bytes_and_names_both_hashes(http_mirror, synthetic, monkeypatch):
    zc = synthetic.datasets["nb201-zc"]
    wrong = replace(zc.sources[0], sha256="ab" * 32)
    monkeypatch.setitem(catalog.DATASETS, "nb201-zc", replace(zc, sources=(wrong,)))
    with pytest.raises(ChecksumMismatch) as info:
        table_path("nb201-zc")
    err = info.value
    actual = hashlib.sha256(synthetic.files["naslib"]).hexdigest()
    assert (err.file, err.expected, err.actual) == (wrong.relpath, "ab" * 32, actual)
    assert wrong.relpath in str(err) and actual in str(err) and "\n" not in str(err)
    assert files_under(data_home()) == []  # no file under the final name, no temporary file
    assert len(http_mirror.requests) == 1  # a mismatch is not retried


def test_a_corrupted_local_file_is_replaced(http_mirror, synthetic):
    path = table_path("nb201-zc")
    path.write_bytes(b"{}")
    assert table_path("nb201-zc").read_bytes() == synthetic.files["naslib"]
    assert len(http_mirror.requests) == 2


def test_interrupted_transfer_leaves_no_file(http_mirror, synthetic):
    source = synthetic.datasets["nb201-zc"].sources[0]
    http_mirror.truncate.add(source.relpath)
    with pytest.raises(DataUnavailable, match="lswag data fetch nb201-zc"):
        table_path("nb201-zc")
    assert files_under(data_home()) == []
    http_mirror.truncate.clear()
    assert table_path("nb201-zc").read_bytes() == synthetic.files["naslib"]


def test_mirror_folder_and_file_url(synthetic, tmp_path, monkeypatch):
    folder = synthetic.write_mirror(tmp_path / "mirror")
    monkeypatch.setenv(store.MIRROR_ENV, str(folder))
    assert table_path("nb201", dest=tmp_path / "a").is_file()
    monkeypatch.setenv(store.MIRROR_ENV, folder.as_uri())
    assert table_path("autoformer-tiny", dest=tmp_path / "b").is_file()
    assert (tmp_path / "a" / "nb201" / "nb201_accuracy.csv").read_bytes() == (
        table_path("nb201", dest=tmp_path / "b").read_bytes()
    )
    monkeypatch.setenv(store.MIRROR_ENV, str(tmp_path / "empty"))
    with pytest.raises(DataUnavailable, match="has no test/naslib/"):
        table_path("nb201-zc", dest=tmp_path / "c")


def test_unreachable_network_is_one_line_naming_the_fix(synthetic, closed_port_url, monkeypatch):
    monkeypatch.setenv(store.MIRROR_ENV, closed_port_url)
    with pytest.raises(DataUnavailable) as info:
        table_path("nb201")
    message = str(info.value)
    assert "\n" not in message and "`lswag data fetch nb201`" in message
    assert "ConnectionError" in message and store.MIRROR_ENV in message
    assert files_under(data_home()) == []


def test_table_rebuilt_when_its_record_or_bytes_change(http_mirror, synthetic):
    path = table_path("nb201")
    original = path.read_bytes()
    path.write_bytes(original.replace(b"\r\n", b"\n"))  # edited by hand
    assert table_path("nb201").read_bytes() == original
    sidecar = path.with_name(path.name + ".sources.json")
    record = json.loads(sidecar.read_text())
    record["sources"][next(iter(record["sources"]))] = "0" * 64  # built from other bytes
    sidecar.write_text(json.dumps(record))
    assert not is_fetched("nb201")
    assert table_path("nb201").read_bytes() == original
    # rebuilt from the verified sources, none downloaded again
    assert len(http_mirror.requests) == 3


def test_missing_pandas_is_named_before_any_download(http_mirror, monkeypatch):
    real = store.importlib.util.find_spec
    monkeypatch.setattr(
        store.importlib.util, "find_spec", lambda n, *a: None if n == "pandas" else real(n, *a)
    )
    with pytest.raises(DataUnavailable, match=r"needs pandas: pip install 'pandas>=1.5'"):
        table_path("nb201")
    assert http_mirror.requests == []


def test_unwritable_data_home_names_the_fix(http_mirror, tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(DataUnavailable, match=r"cannot write into .*: pass --dest DIR or set"):
        table_path("nb201-zc", dest=tmp_path / "file" / "home")


def test_data_home_order(tmp_path, monkeypatch):
    monkeypatch.setenv(store.DATA_HOME_ENV, str(tmp_path / "env"))
    assert data_home() == tmp_path / "env"
    assert data_home(tmp_path / "dest") == tmp_path / "dest"
    monkeypatch.delenv(store.DATA_HOME_ENV)
    assert data_home().name == "lswag_plugin"


def test_unknown_names_are_refused_before_fetching(synthetic):
    with pytest.raises(UnknownDataset, match="known datasets: autoformer-tiny, nb201, nb201-zc"):
        fetch(["nb201", "nb202"])
    assert not data_home().exists()


def test_read_table_takes_dataset_names(http_mirror, synthetic, tmp_path, monkeypatch):
    table = read_table("nb201")
    assert len(table.rows) == 6 and table.rows[0]["arch_str"] == synthetic.cells[0]
    c100 = read_table("nb201-zc#cifar100")
    assert c100.dataset == "cifar100" and len(c100.rows) == 1
    assert read_table("nb201-zc#cifar10").path == table_path("nb201-zc")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "nb201").write_text("arch_str,acc\nx,1\n")  # a file of that name wins
    assert read_table("nb201").rows == [{"arch_str": "x", "acc": "1"}]


# --- real bytes -----------------------------------------------------------------------------


@pytest.mark.data
def test_shared_naslib_files_are_the_pinned_bytes(data_dir, tmp_path, monkeypatch):
    """NB101 and NB301 in ../shared are the pinned NASLib files gzipped: served from a mirror folder, they
    pass the real catalogue's hash check and read as the shared tables."""
    mirror = tmp_path / "mirror"
    shared = {
        "nb101": data_dir / "naslib" / "naslib_zc_nasbench101__22280f71.json.gz",
        "nb301": data_dir / "naslib" / "naslib_zc_nasbench301__6639fd15.json.gz",
    }
    for name, path in shared.items():
        (source,) = catalog.DATASETS[name].sources
        data = gzip.decompress(path.read_bytes())
        assert (hashlib.sha256(data).hexdigest(), len(data)) == (source.sha256, source.size)
        (mirror / source.relpath).parent.mkdir(parents=True)
        (mirror / source.relpath).write_bytes(data)
    monkeypatch.setenv(store.MIRROR_ENV, str(mirror))
    monkeypatch.setenv(store.DATA_HOME_ENV, str(tmp_path / "home"))
    for name, path in shared.items():
        assert read_table(name).rows == read_table(path).rows
