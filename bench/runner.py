"""The runner: the matrix suite × methods × seeds. Cells whose record was made with the same resolved config by
the same code are skipped, so an interrupted run resumes; a failed cell is recorded with its reason and the
others still run. Ctrl-C stops cleanly: cells not started leave nothing, running cells keep their checkpoint
(and are recorded as interrupted only when asked), and the run reports exit status 130. Cells run in processes on
this machine, or as Ray tasks on a cluster (bench/executor_ray.py); planning, skipping and tracking are the same."""
from __future__ import annotations

import ctypes
import os
import signal
import sys
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from tqdm.auto import tqdm

from bench.fingerprint import changed_files
from bench.job import Cell, CellOutcome, JobSettings, run_cell
from bench.plan import RunRequest, pick_device, plan
from bench.records import git_state
from bench.tracking import TrackingSetup, prepare_tracking, quiet_tracking_logs, store_uri


class TrackingUnavailable(RuntimeError):
    """--require-tracking was given and the store cannot be used."""


@dataclass
class RunResult:
    outcomes: list[CellOutcome]  # in plan order
    interrupted: bool = False
    tracking: TrackingSetup | None = None  # None when no cell needed training

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def run(request: RunRequest) -> RunResult:
    """Run every pending cell, `request.workers` at a time, here or on Ray. Outcomes come back in plan order."""
    planned = plan(request)
    for text in planned.notes:
        print(f"bench: note: {text}", file=sys.stderr)
    cells = planned.cells
    device = pick_device(request.device) if request.executor == "local" else None  # on Ray, the cluster's
    progress = Progress(request.show_progress)
    done: dict[str, CellOutcome] = {}
    pending = []
    for cell in cells:
        state, record = cell.state()
        if state == "done" and not request.force:
            done[cell.key] = CellOutcome(cell.cfg.method, cell.cfg.seed, "skipped", cell.record)
            progress.write(f"  {cell.cfg.method} seed {cell.cfg.seed}: already done ({cell.record})")
            continue
        if state == "stale":
            recorded = (record.get("code") or {}).get("files")
            why = (f"changed: {', '.join(changed_files(recorded, cell.code['files']))}" if recorded
                   else "made before records kept a code fingerprint")
            progress.write(f"  {cell.cfg.method} seed {cell.cfg.seed}: its record was made by other code ({why}); "
                           "training again")
        pending.append(cell)
    if not pending:
        return RunResult([done[c.key] for c in cells])
    uri = store_uri(request.out, request.tracking_uri)
    prepared: list[TrackingSetup] = []

    def start(artifact_root: Path | None) -> JobSettings:
        """Create and check the tracking store and show the progress, once the executor is ready to run."""
        tracking = prepare_tracking(uri, request.suite, artifact_root, request.out)
        prepared.append(tracking)
        if tracking.error:
            if request.require_tracking:
                raise TrackingUnavailable(f"{tracking.error}; nothing was trained (--require-tracking)")
            progress.write(f"bench: warning: {tracking.error}; the run goes on untracked and every record says "
                           "so (--require-tracking stops instead)")
        progress.start(pending, f"{request.suite} [{request.profile}]")
        return JobSettings(request.out, tracking, request.command, git_state(), request.force,
                           request.record_interrupted)

    def report(cell: Cell, outcome: CellOutcome) -> None:
        done[cell.key] = outcome
        progress.finish(cell.key, outcome)

    if request.executor == "ray":
        from bench.executor_ray import run_ray  # imports ray: only when it is asked for

        interrupted = run_ray(request, pending, uri, start, progress, report)
    else:
        settings = start(request.out / "mlruns")
        workers = min(resolve_workers(request.workers, device), len(pending))
        if workers == 1:
            interrupted = run_serial(pending, settings, device, progress, report)
        else:
            interrupted = run_parallel(pending, settings, device, workers, progress, report)
    progress.close()
    for cell in pending:  # cells a Ctrl-C kept from starting
        done.setdefault(cell.key, CellOutcome(cell.cfg.method, cell.cfg.seed, "not_started", cell.record))
    return RunResult([done[c.key] for c in cells], interrupted, prepared[0] if prepared else None)


def resolve_workers(workers: int, device: torch.device) -> int:
    """0 = auto: one single-threaded cell per CPU core (small networks keep a core busier alone than two threads
    on one cell do); one cell at a time on a GPU."""
    if workers > 0:
        return workers
    return 1 if device.type == "cuda" else max(1, os.cpu_count() or 1)


def run_serial(cells: list[Cell], settings: JobSettings, device: torch.device, progress: Progress,
               report) -> bool:
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


POOL_RESTARTS = 2  # a worker that dies (killed, out of memory) breaks its pool; the unfinished cells get a new one


def run_parallel(cells: list[Cell], settings: JobSettings, device: torch.device, workers: int,
                 progress: Progress, report) -> bool:
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
             report) -> tuple[bool, list[Cell]]:
    """One process pool, each worker with cores / workers threads; progress comes back through a queue. On
    Ctrl-C the workers are told to stop at their next step and queued cells are dropped; a second Ctrl-C
    stops the workers at once. Returns (interrupted, the cells left without a result by a dead worker)."""
    context = get_context("spawn")
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


class Progress:
    """The overall bar counts training steps of every pending cell, so it shows an ETA from the first steps on;
    one bar per running cell below it (steps, loss, ETA)."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.overall: tqdm | None = None
        self.bars: dict[str, tqdm] = {}
        self.seen: dict[str, int] = {}
        self.steps: dict[str, int] = {}
        self.cells_done = 0
        self.failed = 0
        self.running: set[str] = set()
        self.finished: set[str] = set()
        self.desc = ""

    def write(self, text: str) -> None:
        tqdm.write(text)

    def start(self, cells: list[Cell], desc: str) -> None:
        self.steps = {cell.key: cell.cfg.train.steps for cell in cells}
        self.desc = desc
        self.overall = tqdm(total=sum(self.steps.values()), desc=self.label(), unit="step", position=0,
                            disable=not self.enabled, dynamic_ncols=True, mininterval=1.0,
                            smoothing=0)  # the rate over the whole run: evaluations between cells pause the steps

    def label(self) -> str:
        return (f"{self.desc} {self.cells_done}/{len(self.steps)} cells, {len(self.running)} running"
                + (f", {self.failed} failed" if self.failed else ""))

    def started(self, key: str) -> None:
        """A cell began (before its first step: loading data, building the method)."""
        self.running.add(key)
        if self.overall is not None:
            self.overall.set_description(self.label(), refresh=False)

    def step(self, key: str, step: int, terms: dict[str, float] | None, total: int) -> None:
        if self.overall is None or key in self.finished:  # a late report from a cell that has a result
            return
        if key not in self.running:
            self.started(key)
        if total != self.steps.get(key, total):  # a budget of samples, FLOPs or seconds sets the steps at the start
            self.overall.total += total - self.steps[key]
            self.steps[key] = total
        if key not in self.seen:  # a resumed cell starts at its checkpoint: those steps are not this run's work
            self.overall.total -= step
            self.seen[key] = step
        self.overall.update(step - self.seen[key])
        self.seen[key] = step
        if not self.enabled:
            return
        bar = self.bars.get(key)
        if bar is None:
            free = min(set(range(1, len(self.bars) + 2)) - {b.pos for b in self.bars.values()})
            bar = self.bars[key] = tqdm(total=total, initial=step, desc=key, unit="step", leave=False,
                                        position=free, dynamic_ncols=True, mininterval=1.0)
        bar.total = total
        bar.update(step - bar.n)
        if terms:
            bar.set_postfix(loss=f"{terms['loss']:.3f}", refresh=False)

    def finish(self, key: str, outcome: CellOutcome) -> None:
        if key in self.bars:
            self.bars.pop(key).close()
        if self.overall is not None:
            left = self.steps.get(key, 0) - self.seen.get(key, 0)
            if outcome.status != "ok" and left > 0:  # not trained to the end here: drop its steps from the ETA
                self.overall.total -= left
            self.cells_done += 1
            self.failed += outcome.status == "failed"
            self.running.discard(key)
            self.finished.add(key)
            self.overall.set_description(self.label(), refresh=False)
            self.overall.refresh()
        self.write(outcome_line(outcome))

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()
        if self.overall is not None:
            self.overall.close()


def outcome_line(outcome: CellOutcome) -> str:
    name = f"  {outcome.method} seed {outcome.seed}"
    text = {"ok": f"ok -> {outcome.record}", "failed": f"FAILED: {outcome.reason}",
            "skipped": f"{outcome.reason or 'already done'} ({outcome.record})",
            "busy": f"not started here: {outcome.reason}",
            "interrupted": "interrupted; its last checkpoint is kept, rerun the command to resume",
            "not_started": "not started"}[outcome.status]
    lines = [f"{name}: {text}"]
    if outcome.tracking_error:
        lines.append(f"{name}: tracking failed, the cell is not in MLflow ({outcome.tracking_error})")
    lines += [f"{name}: note: {note}" for note in outcome.notes]
    return "\n".join(lines)
