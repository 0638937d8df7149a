"""Synthetic upstream sources in the real formats, a catalogue pinning their hashes, and a local HTTP mirror.

No test here reaches the network: sources are served by ``http.server`` on 127.0.0.1 (or read from a
mirror folder), laid out ``<owner>/<repo>/<commit>/<path>`` like raw.githubusercontent.com.
"""

from __future__ import annotations

import csv
import hashlib
import http.server
import io
import json
import pickle
import threading
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from lswag_plugin.data import catalog, store
from lswag_plugin.data.build import build_autoformer, build_nb201
from lswag_plugin.data.catalog import Dataset, Source

OPS = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: Header of NAS-Landscapes' data/accuracy/cifar10_avg.csv.
LANDSCAPES_HEADER = (
    *("index", "sol", "name", "C", "N", "arch_str", "num_classes", "index2"),
    *("train-loss", "train-accuracy", "train-per-time", "train-all-time"),
    *("valid-loss", "valid-accuracy", "valid-per-time", "valid-all-time"),
    *("test-loss", "test-accuracy", "test-per-time", "test-all-time"),
)
COMMIT = "0123456789abcdef0123456789abcdef01234567"


def random_cells(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    cells: list[str] = []
    while len(cells) < n:
        o = [OPS[i] for i in rng.integers(0, len(OPS), size=6)]
        cell = f"|{o[0]}~0|+|{o[1]}~0|{o[2]}~1|+|{o[3]}~0|{o[4]}~1|{o[5]}~2|"
        if cell not in cells:
            cells.append(cell)
    return cells


def landscapes_csv(cells: list[str], valid: list[float]) -> bytes:
    buf = io.StringIO(newline="")
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(LANDSCAPES_HEADER)
    for i, (cell, acc) in enumerate(zip(cells, valid)):
        row = dict.fromkeys(LANDSCAPES_HEADER, "0.5")
        row.update({"index": i, "sol": 100000 + i, "name": "infer.tiny", "C": 16, "N": 5})
        row.update({"arch_str": cell, "num_classes": 10, "index2": i, "valid-accuracy": acc})
        writer.writerow([row[c] for c in LANDSCAPES_HEADER])
    return buf.getvalue().encode()


def bayeswatch_pickle(cells: list[str], test: list[float]) -> bytes:
    import pandas as pd

    frame = pd.DataFrame(
        {
            "arch": range(len(cells)),
            "cellstr": cells,
            "params": np.linspace(0.1, 1.5, len(cells)),
            "score": np.linspace(1000, 1700, len(cells)),
            "test_top1": test,
            "valid_top1": test,
            "valid_test_top1": test,
        }
    )
    buf = io.BytesIO()
    frame.to_pickle(buf)
    return buf.getvalue()


def ctpe_runs(acc: np.ndarray, params: np.ndarray, runs: np.ndarray, rng: np.random.Generator):
    """{loss, runtime, size_in_mb} with ``runs[i]`` runs of cell i whose 100 − loss averages to acc[i]."""
    loss, runtime, size = [], [], []
    for i, (a, p, k) in enumerate(zip(acc, params, runs)):
        spread = rng.uniform(0.1, 1.0)
        offsets = [spread, -spread] if k == 2 else [spread, -2 * spread, spread]
        loss += [100.0 - a + d for d in offsets]
        runtime += [1000.0 + 3.0 * i] * k  # one value per cell, every cell a new one
        size += [p] * k
    return {"loss": np.array(loss), "runtime": np.array(runtime), "size_in_mb": np.array(size)}


def ctpe_pickle(per_dataset: dict[str, dict[str, np.ndarray]]) -> bytes:
    return pickle.dumps(per_dataset, protocol=4)


def pth_bytes(obj: object) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


@dataclass
class Synthetic:
    """Synthetic sources (bytes by key), the values they encode, and a catalogue pinning them."""

    files: dict[str, bytes]
    cells: list[str]
    valid: list[float]
    test: list[float]
    c100: list[float]
    params10: list[float]
    params100: list[float]
    autoformer: list[dict]
    naslib: dict
    datasets: dict[str, Dataset] = field(default_factory=dict)

    def source(self, key: str, filename: str, licence: str = "MIT") -> Source:
        data = self.files[key]
        return Source(
            key, f"test/{key}", COMMIT, f"data/{filename}", hashlib.sha256(data).hexdigest(),
            len(data), licence,
        )  # fmt: skip

    def write_mirror(self, folder: Path) -> Path:
        for dataset in self.datasets.values():
            for s in dataset.sources:
                path = folder / s.relpath
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.files[s.key])
        return folder


def make_synthetic() -> Synthetic:
    rng = np.random.default_rng(7)
    cells = random_cells(6)
    valid = [round(float(v), 8) for v in rng.uniform(10, 92, size=6)]
    test = [float(v) for v in rng.uniform(10, 95, size=6)]
    c100 = rng.uniform(1, 74, size=6)
    params10 = np.round(rng.uniform(0.07, 1.5, size=6), 6)
    params100 = params10 + 0.00585
    runs = np.array([2, 3, 2, 3, 3, 2])
    ctpe = {
        "cifar10": ctpe_runs(np.array(valid), params10, runs, rng),
        "cifar100": ctpe_runs(c100, params100, runs, rng),
        "imagenet": ctpe_runs(c100 / 2, params100, runs, rng),
    }
    autoformer = [
        {
            "arch": {"hidden_dim": 192, "mlp_ratio": [3.5, 4.0], "depth": 2, "num_heads": [3, 4]},
            "c100_base_acc": 68.66,
            "flower_kd_acc": 66.59620000000001,
        },
        {
            "arch": {"hidden_dim": 240, "mlp_ratio": [4.0], "depth": 1, "num_heads": [4]},
            "c100_base_acc": 67.84,
            "flower_kd_acc": 69.0194,
        },
    ]
    naslib = {
        "cifar10": {
            "(0, 2, 3, 2, 3, 1)": {
                "idx": "534",
                "val_accuracy": 86.06,
                "params": {"score": 0.615386, "time": 0.4},
                "synflow": {"score": 41.9, "time": 0.5},
            },
            "(4, 0, 4, 1, 2, 0)": {
                "idx": "12",
                "val_accuracy": 70.5,
                "params": {"score": 0.2, "time": 0.4},
                "synflow": {"score": 12.5, "time": 0.5},
            },
        },
        "cifar100": {
            "(0, 2, 3, 2, 3, 1)": {
                "idx": "534",
                "val_accuracy": 62.0,
                "params": {"score": 0.62, "time": 0.4},
                "synflow": {"score": 44.2, "time": 0.5},
            }
        },
    }
    files = {
        "landscapes": landscapes_csv(cells, valid),
        "bayeswatch": bayeswatch_pickle(cells, test),
        "ctpe": ctpe_pickle(ctpe),
        "naslib": json.dumps(naslib).encode(),
        "autoformer": pth_bytes(autoformer),
    }
    syn = Synthetic(
        files, cells, valid, test, list(c100), list(params10), list(params100), autoformer, naslib
    )
    nb201 = catalog.DATASETS["nb201"]
    syn.datasets = {
        "nb201": replace(
            nb201,
            sources=(
                syn.source("landscapes", "cifar10_avg.csv"),
                syn.source("bayeswatch", "arch_score_acc.pd"),
                syn.source("ctpe", "metric_vals.pkl", "Apache-2.0"),
            ),
            builder=build_nb201,
        ),
        "nb201-zc": replace(
            catalog.DATASETS["nb201-zc"],
            sources=(syn.source("naslib", "zc_nasbench201.json", "Apache-2.0"),),
        ),
        "autoformer-tiny": replace(
            catalog.DATASETS["autoformer-tiny"],
            sources=(syn.source("autoformer", "gt_autoformer.pth", "Apache-2.0"),),
            builder=build_autoformer,
        ),
    }
    return syn


@pytest.fixture(scope="session")
def kit() -> SimpleNamespace:
    """The writers of synthetic sources in the upstream formats (tests call them with their own values)."""
    return SimpleNamespace(
        landscapes_csv=landscapes_csv,
        bayeswatch_pickle=bayeswatch_pickle,
        ctpe_runs=ctpe_runs,
        ctpe_pickle=ctpe_pickle,
        pth_bytes=pth_bytes,
    )


@pytest.fixture(scope="session")
def synthetic_files() -> Synthetic:
    return make_synthetic()


@pytest.fixture()
def synthetic(synthetic_files, tmp_path, monkeypatch) -> Synthetic:
    """The synthetic catalogue in place of the real one; an empty data home; no retries; no mirror."""
    monkeypatch.setattr(catalog, "DATASETS", synthetic_files.datasets)
    monkeypatch.setattr(store, "RETRIES", 0)
    monkeypatch.setenv(store.DATA_HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(store.MIRROR_ENV, raising=False)
    return synthetic_files


class _Handler(http.server.SimpleHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: object) -> None:  # quiet; record instead
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        if self.path.lstrip("/") in self.server.truncate:
            data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()


class _Server(http.server.ThreadingHTTPServer):
    requests: list[str]
    truncate: set[str]


@dataclass
class Mirror:
    folder: Path
    url: str
    requests: list[str]
    truncate: set[str]


@pytest.fixture()
def http_mirror(synthetic, tmp_path, monkeypatch) -> Mirror:
    """The synthetic sources served on 127.0.0.1; ``$LSWAG_DATA_MIRROR`` points at it."""
    folder = synthetic.write_mirror(tmp_path / "mirror")

    def handler(*args, **kwargs):
        return _Handler(*args, directory=str(folder), **kwargs)

    server = _Server(("127.0.0.1", 0), handler)
    server.requests, server.truncate = [], set()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/"
    monkeypatch.setenv(store.MIRROR_ENV, url)
    try:
        yield Mirror(folder, url, server.requests, server.truncate)
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (a connection is refused at once)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/"
