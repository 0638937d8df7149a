"""Worker processes that keep several candidates in flight for a :class:`~lswag_plugin.engine.Scorer`.

Each worker is a spawned process (its own interpreter, torch threads and, on a GPU, CUDA context)
running a :class:`~lswag_plugin.engine.candidate.CandidateScorer` of the same proxies and
:class:`~lswag_plugin.engine.ScoringConfig` (the batch travels with the config, loaded once). The
parent starts the workers and waits until each is ready, hands each idle worker the next candidate (a
picklable ``build()``), collects results in input order, and watches every worker's process: a worker
that dies (killed, out of host memory) fails only the candidate it held, with the reason, and is
replaced. A worker that dies before it is ready (a script without an ``if __name__ == "__main__":``
guard, an import that fails in a fresh interpreter) stops the pool with one typed error naming the fix,
and a candidate that raises a bug (not a typed error) raises it in the parent. Processes rather than
threads: a score is Python-heavy (hooks, per-layer statistics) and seeded blocks share one lock, so
threads would score one at a time.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection, wait
from typing import Any

from torch import nn

from lswag_plugin.engine.candidate import CandidateResult, CandidateScorer
from lswag_plugin.engine.config import ScoringConfig
from lswag_plugin.errors import BadDevice, CandidateCrashed, WorkerFailed, WorkerStartFailed

__all__ = ["WorkerPool"]

#: Room left for each worker's CUDA context and allocator slack when checking GPU memory (bytes).
_CUDA_CONTEXT_BYTES = 600 * 2**20
_READY = "ready"


def _worker_main(conn: Connection, proxies: list[str], config: ScoringConfig, threads: int) -> None:
    """A worker's loop: receive ``(index, build, label)``, send ``(index, CandidateResult, peak)``, or
    ``(index, None, traceback)`` for a bug."""
    import torch

    torch.set_num_threads(threads)
    scorer = CandidateScorer(proxies, config)
    cuda = scorer.device.type == "cuda"
    conn.send(_READY)
    while True:
        task = conn.recv()
        if task is None:
            return
        index, build, label = task
        if cuda:
            torch.cuda.reset_peak_memory_stats(scorer.device)
        try:
            result = scorer.score_built(build, label, catch=True)
        except Exception:
            conn.send((index, None, traceback.format_exc()))
            continue
        peak = torch.cuda.max_memory_reserved(scorer.device) if cuda else 0
        conn.send((index, result, peak))


class _Worker:
    def __init__(self, ctx: Any, args: tuple[Any, ...]) -> None:
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, *args), daemon=True)
        self.process.start()
        child.close()
        self.task: tuple[int, str] | None = None  # (index, label) in flight


class WorkerPool:
    """``n`` worker processes scoring candidates for one (proxies, config) pair.

    Args:
        n: Worker processes.
        proxies: Proxy names.
        config: The scoring settings; its batch is loaded here once and shipped to the workers.
        threads: torch CPU threads per worker (default: the config's, else the cores divided by ``n``).

    Raises:
        WorkerStartFailed: A worker died before it was ready (the message names the likely cause: a
            script that starts workers without an ``if __name__ == "__main__":`` guard).
        BadDevice: On CUDA, after the first candidate: ``n`` workers would not fit the GPU's memory
            (the message gives the measured peak of one worker and the free memory).
    """

    def __init__(
        self, n: int, proxies: Sequence[str], config: ScoringConfig, *, threads: int | None = None
    ) -> None:
        if n < 1:
            raise ValueError(f"a worker pool needs n >= 1 workers, got {n}")
        config.batch()  # loaded once here; pickled with the config
        self.n = n
        self.config = config
        threads = threads or config.threads or max(1, (os.cpu_count() or 1) // n)
        self._args = (list(proxies), config, threads)
        self._ctx = mp.get_context("spawn")  # CUDA-safe; a fork would share the parent's context
        self._workers: list[_Worker] = []
        self._memory_checked = config.torch_device().type != "cuda"

    def _start(self, count: int = 1) -> None:
        """Starts ``count`` workers and waits until each is ready."""
        started = [_Worker(self._ctx, self._args) for _ in range(count)]
        self._workers += started
        for worker in started:
            ready = wait([worker.conn, worker.process.sentinel])
            message = None
            if worker.conn in ready:
                with contextlib.suppress(EOFError, OSError):
                    message = worker.conn.recv()
            if message != _READY:
                worker.process.join(5)
                code = worker.process.exitcode
                self.close()
                raise WorkerStartFailed(
                    f"a scoring worker process exited (code {code}) before it was ready. Worker "
                    "processes are spawned: each imports your main module again, so a script that "
                    'scores with workers must start them under `if __name__ == "__main__":`, and '
                    "everything the workers build must import in a fresh interpreter (see the "
                    "worker's traceback above)"
                )

    def run(self, tasks: Sequence[tuple[Callable[[], nn.Module], str]]) -> list[CandidateResult]:
        """Returns one :class:`CandidateResult` per ``(build, label)`` task, in input order.

        Raises:
            CandidateCrashed: A candidate raised an exception that is not a typed error (a bug); the
                message holds the worker's traceback.
        """
        results: list[Any] = [None] * len(tasks)
        pending = deque(enumerate(tasks))
        if not self._memory_checked and pending:
            # One candidate alone first: its peak memory says whether n workers fit the GPU.
            index, (build, label) = pending.popleft()
            results[index], peak = self._run_one(index, build, label)
            self._check_memory(peak)
        missing = min(self.n, len(pending)) - len(self._workers)
        if missing > 0:
            self._start(missing)
        while pending or any(w.task is not None for w in self._workers):
            for worker in self._workers:
                if worker.task is None and pending:
                    index, (build, label) = pending.popleft()
                    worker.conn.send((index, build, label))
                    worker.task = (index, label)
            busy = [w for w in self._workers if w.task is not None]
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn in ready:
                    try:
                        index, result, extra = worker.conn.recv()
                    except (EOFError, OSError):
                        pass  # died while sending: handled below with the sentinel
                    else:
                        worker.task = None
                        if result is None:
                            self.close()
                            raise CandidateCrashed(
                                f"candidate {tasks[index][1]!r} raised in a worker process:\n{extra}"
                            )
                        results[index] = result
                        continue
                if worker.process.sentinel in ready or not worker.process.is_alive():
                    worker.process.join(1)
                    index, label = worker.task  # type: ignore[misc]
                    code = worker.process.exitcode
                    reason = f"{WorkerFailed.__name__}: the worker process scoring it died (exit code {code}"
                    reason += ": killed, or out of memory)" if code and code < 0 else ")"
                    results[index] = CandidateResult(label, None, error=reason)
                    self._workers.remove(worker)
                    if pending:
                        self._start()
        return results

    def _run_one(
        self, index: int, build: Callable[[], nn.Module], label: str
    ) -> tuple[CandidateResult, int]:
        if not self._workers:
            self._start()
        worker = self._workers[0]
        worker.conn.send((index, build, label))
        try:
            _, result, extra = worker.conn.recv()
        except (EOFError, OSError) as exc:
            self._workers.remove(worker)
            raise WorkerFailed(
                f"the first worker died scoring {label!r} (exit code {worker.process.exitcode})"
            ) from exc
        if result is None:
            self.close()
            raise CandidateCrashed(f"candidate {label!r} raised in a worker process:\n{extra}")
        return result, int(extra)

    def _check_memory(self, peak: int) -> None:
        import torch

        self._memory_checked = True
        device = self.config.torch_device()
        free, total = torch.cuda.mem_get_info(device)
        need = self.n * (peak + _CUDA_CONTEXT_BYTES)
        if need > free + peak + _CUDA_CONTEXT_BYTES:  # the probing worker already holds its share
            self.close()
            fits = max(1, int((free + peak) // (peak + _CUDA_CONTEXT_BYTES)))
            raise BadDevice(
                f"{self.n} workers need about {need / 2**30:.1f} GiB on {device} (one candidate peaked "
                f"at {peak / 2**30:.2f} GiB, plus ~{_CUDA_CONTEXT_BYTES / 2**30:.1f} GiB per CUDA "
                f"context) but {free / 2**30:.1f} of {total / 2**30:.1f} GiB are free; use "
                f"--workers {fits} or a smaller batch"
            )

    def close(self) -> None:
        """Stops every worker (idempotent)."""
        for worker in self._workers:
            with contextlib.suppress(BrokenPipeError, OSError):
                worker.conn.send(None)
        for worker in self._workers:
            worker.process.join(5)
            if worker.process.is_alive():
                worker.process.kill()
                worker.process.join(5)
            worker.conn.close()
        self._workers = []
