"""Scoring on a GPU, all figures in one run: per-candidate cost, throughput with candidates in flight.

1. **Per candidate** (one process): the median seconds of one plain forward+backward of the batch, of
   ``Scorer("lswag")`` and of ``Scorer("all")`` on the same model (a private copy per call, as for a
   caller's model) and on networks handed over (``owned=True``: built before the clock, scored in
   place), for an NB201 cell (batch 64, 32²), timm's ResNet-18 at 32² and ViT-Tiny (patch 8) at 32².
2. **Throughput**: NB201 cells and AutoFormer-S networks (224²) per second, L-SWAG, batch 64,
   building included (seeded, on the CPU as every host builds, then moved), with ``--workers`` worker
   processes (each its own CUDA context) and with the same number of threads (each its own CUDA
   stream), while a thread samples the GPU's utilisation and memory (``nvidia-smi``).
3. **Same numbers**: ``--agree`` NB201 cells scored on the CPU and on the GPU; the largest relative
   difference per proxy (L-SWAG, its Λ and Ψ, NWOT, ZiCo, MeCo).

    python benchmarks/gpu_throughput.py --json benchmarks/results/gpu_throughput_h200.json

Runs on a CPU too (``--device cpu`` and small ``--n-nb201``/``--n-autoformer``), to check the script
before a GPU visit. Prints Markdown tables, then (last line) a JSON object (``--json PATH`` writes it to a
file too).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import shutil
import statistics
import subprocess
import threading
import time
from typing import Any

import _common
import numpy as np
import torch
import torch.nn.functional as F

import lswag_plugin
from lswag_plugin.engine import Scorer, ScoringConfig
from lswag_plugin.spaces import get_space

NB201_ARCH = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _models() -> dict[str, Any]:
    """Name → (build(), input size)."""
    import timm

    space = get_space("nb201")
    return {
        "nb201": (lambda: space.build(NB201_ARCH, num_classes=10), 32),
        "resnet18@32": (lambda: timm.create_model("resnet18", num_classes=10), 32),
        "vit_tiny@32": (
            lambda: timm.create_model(
                "vit_tiny_patch16_224", img_size=32, patch_size=8, num_classes=10
            ),
            32,
        ),
    }


class _GpuMonitor:
    """Samples ``nvidia-smi`` utilisation (%) and memory (MiB) every ``interval`` s in a thread."""

    def __init__(self, device: torch.device, interval: float = 0.2) -> None:
        self.enabled = device.type == "cuda" and shutil.which("nvidia-smi") is not None
        self.index = device.index or 0
        self.interval = interval
        self.samples: list[tuple[float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        query = [
            "nvidia-smi",
            "--query-gpu=utilization.gpu,memory.used",
            "--format=csv,noheader,nounits",
            f"--id={self.index}",
        ]
        while not self._stop.is_set():
            try:
                out = subprocess.run(query, capture_output=True, text=True, timeout=5).stdout
                util, mem = (float(v) for v in out.strip().split(","))
                self.samples.append((util, mem))
            except (OSError, ValueError, subprocess.SubprocessError):
                pass
            self._stop.wait(self.interval)

    def __enter__(self) -> _GpuMonitor:
        if self.enabled:
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self.enabled:
            self._thread.join(10)

    def summary(self) -> dict[str, float | None]:
        if not self.samples:
            return {"gpu_util_mean_pct": None, "gpu_memory_peak_mib": None}
        return {
            "gpu_util_mean_pct": round(statistics.mean(u for u, _ in self.samples), 1),
            "gpu_memory_peak_mib": max(m for _, m in self.samples),
        }


def per_candidate(device: torch.device, repeats: int) -> dict[str, Any]:
    """Median seconds of a plain step, of lswag and of all proxies (copied and owned), per model."""
    out: dict[str, Any] = {}
    for name, (build, size) in _models().items():
        config = ScoringConfig(batch_size=64, resolution=size, device=str(device), seed=0)
        x, y = config.batch()
        x, y = x.to(device), y.to(device)
        model = build().to(device)
        scorers = {p: Scorer(p, config) for p in ("lswag", "all")}
        times: dict[str, list[float]] = {
            k: [] for k in ("plain", "lswag", "all", "lswag_owned", "all_owned")
        }

        def plain(model: torch.nn.Module = model, x: torch.Tensor = x, y: torch.Tensor = y) -> None:
            model.zero_grad(set_to_none=True)
            F.cross_entropy(model(x), y).backward()

        for _ in range(2):  # warm-up: kernels, allocator
            plain()
            for s in scorers.values():
                s.score(model)
        for _ in range(repeats):
            _sync(device)
            t0 = time.perf_counter()
            plain()
            _sync(device)
            times["plain"].append(time.perf_counter() - t0)
            for proxies, scorer in scorers.items():
                t0 = time.perf_counter()
                scorer.score(model)  # returns floats: the device has finished
                times[proxies].append(time.perf_counter() - t0)
                owned = build().to(device)
                _sync(device)
                t0 = time.perf_counter()
                scorer.score(owned, owned=True)
                times[f"{proxies}_owned"].append(time.perf_counter() - t0)
        med = {k: statistics.median(v) for k, v in times.items()}
        out[name] = {"seconds": med, "ratio": {k: v / med["plain"] for k, v in med.items()}}
    return out


def _throughput_processes(
    space_name: str, config: ScoringConfig, archs: list, workers: int
) -> float:
    space = get_space(space_name)
    with Scorer("lswag", config, space=space, workers=workers) as scorer:
        scorer.score_archs(
            archs[: max(2, workers)]
        )  # start the workers (and CUDA) before the clock
        t0 = time.perf_counter()
        results = scorer.score_archs(archs[max(2, workers) :])
        seconds = time.perf_counter() - t0
    failed = [r.error for r in results if not r.ok]
    if failed:
        raise RuntimeError(f"{len(failed)} candidates failed, e.g. {failed[0]}")
    return len(results) / seconds


def _throughput_threads(space_name: str, config: ScoringConfig, archs: list, workers: int) -> float:
    space = get_space(space_name)
    device = config.torch_device()
    scorers = [Scorer("lswag", config, space=space) for _ in range(workers)]
    streams = [torch.cuda.Stream(device) if device.type == "cuda" else None for _ in range(workers)]

    def work(i: int) -> None:
        context = (
            torch.cuda.stream(streams[i]) if streams[i] is not None else contextlib.nullcontext()
        )
        with context:
            for arch in archs[i::workers]:
                scorers[i].score_arch(arch)

    for s in scorers:
        s.score_arch(archs[0])  # warm-up
    t0 = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        list(pool.map(work, range(workers)))
    return len(archs) / (time.perf_counter() - t0)


def throughput(
    device: torch.device, workers: list[int], n: dict[str, int], data: str | None
) -> dict:
    """Candidates per second (lswag, batch 64, building included) per space, workers, and mode."""
    out: dict[str, Any] = {}
    for space_name, size in (("nb201", 32), ("autoformer-s", 224)):
        space = get_space(space_name)
        rng = np.random.default_rng(0)
        archs = [space.sample(rng) for _ in range(n[space_name] + max(workers) + 2)]
        config = ScoringConfig(
            data=data, batch_size=64, resolution=size, num_classes=10, device=str(device), threads=1
        )
        rows = {}
        for w in workers:
            for mode, fn in (
                ("processes", _throughput_processes),
                ("threads", _throughput_threads),
            ):
                if mode == "threads" and w == 1:
                    continue  # one thread is one process
                with _GpuMonitor(device) as monitor:
                    rate = fn(space_name, config, archs, w)
                rows[f"{mode}={w}"] = {"per_second": round(rate, 2), **monitor.summary()}
                print(f"{space_name} {mode}={w}: {rate:.2f}/s {monitor.summary()}", flush=True)
        out[space_name] = rows
    return out


def agreement(device: torch.device, n: int, data: str | None) -> dict[str, float]:
    """Largest relative difference per proxy between CPU and ``device`` scores of ``n`` NB201 cells."""
    space = get_space("nb201")
    archs = space.all_archs()[:: max(1, 15625 // n)][:n]
    proxies = "lswag,nwot,zico,meco"
    cpu = Scorer(proxies, space=space, data=data, batch_size=64, device="cpu").score_archs(archs)
    dev = Scorer(proxies, space=space, data=data, batch_size=64, device=str(device)).score_archs(
        archs
    )
    worst: dict[str, float] = {}
    for a, b in zip(cpu, dev):
        values_a = {**a.values, **a.components}
        values_b = {**b.values, **b.components}
        for k, v in values_a.items():
            w = values_b[k]
            if np.isfinite(v) and v != 0:
                worst[k] = max(worst.get(k, 0.0), abs(w - v) / abs(v))
    return worst


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--n-nb201", type=int, default=400, help="NB201 cells per throughput setting")
    p.add_argument("--n-autoformer", type=int, default=200, help="AutoFormer-S nets per setting")
    p.add_argument("--agree", type=int, default=20, help="NB201 cells scored on CPU and device")
    p.add_argument("--parts", default="cost,throughput,agree")
    _common.add_flags(
        p,
        "device",
        "workers",
        "data",
        "threads",
        "json",
        many=("workers",),
        device="cuda",
        workers=[1, 2, 4, 8],
        threads=1,
        helps={"workers": "worker counts of the throughput part (processes, and as many threads)"},
    )
    args = _common.parse(p)
    device = torch.device(args.device)
    parts = set(args.parts.split(","))
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    result: dict[str, Any] = {
        "device": name,
        "torch": torch.__version__,
        "lswag_plugin": lswag_plugin.__version__,
    }
    started = time.perf_counter()
    if "cost" in parts:
        result["per_candidate"] = per_candidate(device, args.repeats)
        print(
            "| model | plain s | lswag × | lswag owned × | all × | all owned × |\n|---|---|---|---|---|---|"
        )
        for m, r in result["per_candidate"].items():
            q = r["ratio"]
            print(
                f"| {m} | {r['seconds']['plain']:.4f} | {q['lswag']:.2f} | {q['lswag_owned']:.2f} | "
                f"{q['all']:.2f} | {q['all_owned']:.2f} |",
                flush=True,
            )
    if "throughput" in parts:
        workers = args.workers
        n = {"nb201": args.n_nb201, "autoformer-s": args.n_autoformer}
        result["throughput"] = throughput(device, workers, n, args.data)
    if "agree" in parts and device.type != "cpu":
        result["max_relative_difference_cpu_vs_device"] = agreement(device, args.agree, args.data)
        print(
            "max relative difference CPU vs device:",
            result["max_relative_difference_cpu_vs_device"],
        )
    result["seconds"] = round(time.perf_counter() - started, 1)
    _common.emit(result, args.json)


if __name__ == "__main__":
    main()
