"""The local executor: cells in processes on this machine (one at a time in this process, or side by side in a
pool of worker processes that die with the runner), each through bench.run.job.run_cell."""
from __future__ import annotations

import ctypes
import os
import signal
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any

import torch

from bench.run.executor import Progress, Report, Start
from bench.run.job import Cell, CellOutcome, JobSettings, run_cell
from bench.run.plan import pick_device
from bench.run.tracking import quiet_tracking_logs


@dataclass
class LocalExecutor:
    device: torch.device
    workers: int  # 0 = auto
    out: Path  # MLflow artifacts go to <out>/mlruns

    def run(self, cells: list[Cell], start: Start, progress: Progress, report: Report) -> bool:
        settings = start(self.out / "mlruns")
        workers = min(resolve_workers(self.workers, self.device), len(cells))
        if workers == 1:
            return run_serial(cells, settings, self.device, progress, report)
        return run_parallel(cells, settings, self.device, workers, progress, report)


def resolve_workers(workers: int, device: torch.device) -> int:
    """0 = auto: one single-threaded cell per CPU core (small networks keep a core busier alone than two threads
    on one cell do); one cell at a time on a GPU."""
    if workers > 0:
        return workers
    return 1 if device.type == "cuda" else max(1, os.cpu_count() or 1)


def run_serial(cells: list[Cell], settings: JobSettings, device: torch.device, progress: Progress,
               report: Report) -> bool:
    """Cells one after another in this process; returns whether Ctrl-C stopped the run."""
    suites: dict[str, Any] = {}
    for cell in cells:
        try:
            outcome = run_cell(cell, settings, device, suites,
                               lambda step, terms, total, key=cell.key: progress.step(key, step, terms, total))
        except KeyboardInterrupt:
            return True
        report(cell, outcome)
        if outcome.status == "interrupted":
            return True
    return False


_WORKER: dict[str, Any] = {}


def die_with_parent() -> None:
    """Ask Linux to stop this worker when the runner dies, so a killed run leaves no cells training."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers still stop at their next cell


def _start_worker(threads: int, queue, stop) -> None:
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the runner, which tells workers through `stop`
    torch.set_num_threads(threads)
    quiet_tracking_logs()
    _WORKER.update(queue=queue, stop=stop, suites={})


def _run_in_worker(cell: Cell, settings: JobSettings, device_name: str) -> CellOutcome:
    queue, stop = _WORKER["queue"], _WORKER["stop"]
    if stop.is_set():
        return CellOutcome(cell.cfg.method, cell.cfg.seed, "not_started", cell.record)
    return run_cell(cell, settings, pick_device(device_name), _WORKER["suites"],
                    lambda step, terms, total: queue.put((cell.key, step, terms, total)), stop.is_set)


def worker_context() -> BaseContext:
    """Workers forked from one server process that imported the cell's code (multiprocessing's forkserver),
    rather than each spawned afresh to import torch, the metrics and MLflow again (seconds each): the import is
    paid once per run, however many workers, and a pool restarted after a worker died starts at once. The server
    also imports torch._dynamo, which an optimizer's first use would import in every worker. It runs no torch
    operation (no thread pool to fork), and it exits when the runner does, and its workers with it."""
    context = get_context("forkserver")
    context.set_forkserver_preload([__name__, "torch._dynamo"])
    return context


POOL_RESTARTS = 2  # a worker that dies (killed, out of memory) breaks its pool; the unfinished cells get a new one


def run_parallel(cells: list[Cell], settings: JobSettings, device: torch.device, workers: int,
                 progress: Progress, report: Report) -> bool:
    """Cells in `workers` processes. When a worker dies, the cells without a result start again in a new pool
    (resuming from their checkpoints), at most POOL_RESTARTS times. Returns whether Ctrl-C stopped the run."""
    for restart in range(POOL_RESTARTS + 1):
        interrupted, unfinished = run_pool(cells, settings, device, workers, progress, report)
        if interrupted or not unfinished:
            return interrupted
        cells = unfinished
        if restart < POOL_RESTARTS:
            progress.write(f"bench: a worker process died; {len(cells)} unfinished cells start again in new "
                           "processes and resume from their checkpoints")
    for cell in cells:
        report(cell, CellOutcome(cell.cfg.method, cell.cfg.seed, "failed", cell.record,
                                 f"worker processes died {POOL_RESTARTS + 1} times; no record was written, and a "
                                 "rerun resumes the cell"))
    return False


def run_pool(cells: list[Cell], settings: JobSettings, device: torch.device, workers: int, progress: Progress,
             report: Report) -> tuple[bool, list[Cell]]:
    """One process pool, each worker with cores / workers threads; progress comes back through a queue. On
    Ctrl-C the workers are told to stop at their next step and queued cells are dropped; a second Ctrl-C
    stops the workers at once. Returns (interrupted, the cells left without a result by a dead worker)."""
    context = worker_context()
    queue, stop = context.Queue(), context.Event()
    threads = max(1, (os.cpu_count() or 1) // workers) if device.type == "cpu" else torch.get_num_threads()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker,
                               initargs=(threads, queue, stop))
    futures = {pool.submit(_run_in_worker, cell, settings, device.type): cell for cell in cells}
    interrupted, unfinished = False, []

    def drain() -> None:
        while not queue.empty():
            progress.step(*queue.get_nowait())

    def wait_all() -> None:
        remaining = set(futures)
        while remaining:
            finished, remaining = wait(remaining, timeout=0.5, return_when=FIRST_COMPLETED)
            drain()
            for future in finished:
                if future.cancelled():
                    continue
                try:
                    report(futures[future], future.result())
                except BrokenProcessPool:
                    unfinished.append(futures[future])

    try:
        try:
            wait_all()
        except KeyboardInterrupt:
            interrupted = True
            stop.set()
            for future in futures:
                future.cancel()
            progress.write("bench: stopping: running cells stop at their next step and keep their checkpoint "
                           "(Ctrl-C again to stop at once)")
            try:
                wait_all()
            except KeyboardInterrupt:
                for process in list(getattr(pool, "_processes", {}).values()):
                    process.terminate()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        drain()
    return interrupted, [] if interrupted else unfinished
