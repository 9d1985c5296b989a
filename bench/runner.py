"""The runner: the matrix suite × methods × seeds. Each cell trains, evaluates the suite's task matrix and
writes one record. Finished cells are skipped on a rerun (same resolved config), so an interrupted run
resumes; a failed cell is recorded with its reason and the other cells still run."""
from __future__ import annotations

import ctypes
import os
import platform
import signal
import tempfile
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
import yaml
from tqdm.auto import tqdm

from bench.config import CellConfig, resolve
from bench.records import SCHEMA, cell_stem, finished, git_state, write_record, write_samples
from bench.tracking import Tracker, default_tracking_uri
from bench.train import train
from methods import METHODS
from tasks import SUITES


@dataclass
class RunRequest:
    suite: str
    methods: list[str]
    seeds: list[int]
    profile: str = "cpu"
    overrides: list[str] = field(default_factory=list)
    device: str = "auto"
    out: Path = Path("results")
    tracking_uri: str | None = None
    force: bool = False
    command: str = ""
    show_progress: bool = True
    workers: int = 1  # cells run side by side; 0 = auto (one per CPU core)
    git: dict[str, Any] = field(default_factory=dict)


@dataclass
class CellOutcome:
    method: str
    seed: int
    status: str  # ok | failed | skipped
    record: Path
    reason: str | None = None


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
    return torch.device(name)


def describe_device(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
    return {"type": "cpu", "name": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}


def plan(request: RunRequest) -> list[CellConfig]:
    return [resolve(request.suite, m, s, request.profile, request.overrides)
            for m in request.methods for s in request.seeds]


def run(request: RunRequest) -> list[CellOutcome]:
    """Run every pending cell, `request.workers` at a time; finished cells are skipped.
    Outcomes come back in plan order (methods, then seeds)."""
    device = pick_device(request.device)
    request.git = git_state()  # the code this process loaded, not whatever the checkout holds later
    outcomes: list[CellOutcome] = []
    pending: list[tuple[CellConfig, Path]] = []
    cells = plan(request)
    for cfg in cells:
        stem = cell_stem(request.out, cfg.suite, cfg.profile, cfg.method, cfg.config_hash(), cfg.seed)
        if not request.force and finished(stem.with_suffix(".json"), cfg.config_hash()):
            outcomes.append(CellOutcome(cfg.method, cfg.seed, "skipped", stem.with_suffix(".json")))
            tqdm.write(f"  {cfg.method} seed {cfg.seed}: already done ({stem.with_suffix('.json')}), skipped")
        else:
            pending.append((cfg, stem))
    workers = min(resolve_workers(request.workers, device), max(1, len(pending)))
    overall = tqdm(total=len(pending), desc=f"{request.suite} [{request.profile}]", unit="cell",
                   disable=not request.show_progress or not pending, dynamic_ncols=True, position=0)
    bars = CellBars(request.show_progress)

    def report(outcome: CellOutcome) -> None:
        outcomes.append(outcome)
        overall.update(1)
        message = "ok" if outcome.status == "ok" else f"FAILED: {outcome.reason}"
        tqdm.write(f"  {outcome.method} seed {outcome.seed}: {message} -> {outcome.record}")

    if workers == 1:
        suites: dict[str, Any] = {}
        for cfg, stem in pending:
            key, total = cell_key(cfg), cfg.train.steps
            report(run_cell(cfg, request, device, suites, stem,
                            lambda step, terms, key=key, total=total: bars.update(key, step, terms, total)))
            bars.close(key)
    else:
        run_parallel(pending, request, device, workers, bars, report)
    overall.close()
    order = {(cfg.method, cfg.seed): i for i, cfg in enumerate(cells)}
    return sorted(outcomes, key=lambda o: order[(o.method, o.seed)])  # plan order, however cells finished


def resolve_workers(workers: int, device: torch.device) -> int:
    """0 = auto: one single-threaded cell per CPU core (on the 2-core machine the cpu main job took 22.8 min
    this way, against 25.5 min projected one cell at a time with two threads); one cell at a time on a GPU."""
    if workers > 0:
        return workers
    return 1 if device.type == "cuda" else max(1, os.cpu_count() or 1)


def cell_key(cfg: CellConfig) -> str:
    return f"{cfg.method} s{cfg.seed}"


class CellBars:
    """One progress bar per running cell (steps, loss, ETA), below the overall bar."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bars: dict[str, tqdm] = {}

    def update(self, key: str, step: int, terms: dict[str, float] | None, total: int | None = None) -> None:
        if not self.enabled:
            return
        bar = self.bars.get(key)
        if bar is None:
            free = min(set(range(1, len(self.bars) + 2)) - {b.pos for b in self.bars.values()})
            bar = self.bars[key] = tqdm(total=total, desc=key, unit="step", leave=False, position=free,
                                        dynamic_ncols=True, mininterval=1.0)
        bar.update(step - bar.n)
        if terms:
            bar.set_postfix(loss=f"{terms['loss']:.3f}", refresh=False)

    def close(self, key: str) -> None:
        if key in self.bars:
            self.bars.pop(key).close()


_WORKER: dict[str, Any] = {}


def die_with_parent() -> None:
    """Ask Linux to stop this worker when the runner dies, so a killed run leaves no cells training."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: workers still stop at their next cell


def _start_worker(threads: int, queue) -> None:
    die_with_parent()
    torch.set_num_threads(threads)
    _WORKER.update(queue=queue, suites={})


def _run_in_worker(cfg: CellConfig, request: RunRequest, stem: Path) -> CellOutcome:
    queue, key, total = _WORKER["queue"], cell_key(cfg), cfg.train.steps
    report = (lambda step, terms: queue.put((key, step, terms, total))) if request.show_progress else None
    try:
        return run_cell(cfg, request, pick_device(request.device), _WORKER["suites"], stem, report)
    finally:
        queue.put((key, None, None, total))


def run_parallel(pending, request: RunRequest, device: torch.device, workers: int, bars: CellBars, report) -> None:
    """Cells in `workers` processes, each with cores / workers threads; progress comes back through a queue."""
    context = get_context("spawn")
    queue = context.Manager().Queue()
    threads = max(1, (os.cpu_count() or 1) // workers) if device.type == "cpu" else torch.get_num_threads()
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=_start_worker, initargs=(threads, queue))
    try:
        futures = {pool.submit(_run_in_worker, cfg, request, stem) for cfg, stem in pending}
        while futures:
            done, futures = wait(futures, timeout=0.5, return_when=FIRST_COMPLETED)
            while not queue.empty():
                key, step, terms, total = queue.get_nowait()
                bars.close(key) if step is None else bars.update(key, step, terms, total)
            for future in done:
                report(future.result())
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()


def log_cell_artifacts(tracker: Tracker, suite, cfg: CellConfig, evaluation) -> None:
    """The resolved config and a figure of the cell's samples, as MLflow artifacts (not kept in results/)."""
    if tracker.run_id is None:
        return
    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        tracker.log_artifact(config)
        figure = suite.cell_figure(cfg.method, evaluation, Path(folder) / "samples.png")
        if figure is not None:
            tracker.log_artifact(figure)


def run_cell(cfg: CellConfig, request: RunRequest, device: torch.device, suites: dict[str, Any],
             stem: Path, on_step=None) -> CellOutcome:
    record_path = stem.with_suffix(".json")
    checkpoint = request.out / "checkpoints" / stem.relative_to(request.out).with_suffix(".pt")
    uri = request.tracking_uri or default_tracking_uri(request.out)
    tracker = Tracker(uri, experiment=cfg.suite, artifact_root=request.out / "mlruns")
    tracker.start(f"{cfg.method}-seed{cfg.seed}", cfg.flat(),
                  {"suite": cfg.suite, "method": cfg.method, "seed": str(cfg.seed), "profile": cfg.profile,
                   "config_hash": cfg.config_hash()})
    record: dict[str, Any] = {
        "schema": SCHEMA, "suite": cfg.suite, "method": cfg.method, "seed": cfg.seed, "profile": cfg.profile,
        "config_hash": cfg.config_hash(), "overrides": cfg.overrides, "command": request.command,
        "git": request.git or git_state(), "device": describe_device(device),
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
        "capabilities": METHODS.get(cfg.method).capabilities.directions(),
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": cfg.to_dict(), "wall_time": {}, "metrics": {}, "status": "failed", "reason": None,
    }
    wall = record["wall_time"]
    start = time.perf_counter()
    try:
        key = repr(cfg.data)
        if key not in suites:
            suites[key] = SUITES.get(cfg.suite)(cfg.data)
        suite = suites[key]
        record["data"] = suite.describe()
        wall["data"] = time.perf_counter() - start

        torch.manual_seed(cfg.seed)
        method = METHODS.get(cfg.method)(suite.specs, cfg.model, cfg.flow, cfg.options).to(device)
        record["parameters"] = sum(p.numel() for p in method.parameters())
        t0 = time.perf_counter()
        ema, summary = train(method, suite, cfg.train, device, log=tracker.log_metrics, checkpoint=checkpoint,
                             on_step=on_step)
        wall["train"] = time.perf_counter() - t0
        record["train"] = {"steps": summary.steps, "resumed_from": summary.resumed_from,
                           "final_terms": summary.final_terms, "samples_per_second": summary.samples_per_second}

        t0 = time.perf_counter()
        torch.manual_seed(cfg.seed + 1_000_003)
        evaluation = suite.evaluate(ema.module, cfg.eval, device)
        wall["eval"] = time.perf_counter() - t0
        wall["eval_tasks"] = evaluation.timings
        record["metrics"] = {k: r.as_dict() for k, r in evaluation.metrics.items()}
        tracker.log_metrics({k: r.value for k, r in evaluation.metrics.items() if r.value is not None},
                            cfg.train.steps)
        if evaluation.samples:
            write_samples(stem.with_suffix(".samples.npz"), evaluation.samples)
            record["samples"] = stem.with_suffix(".samples.npz").name
        log_cell_artifacts(tracker, suite, cfg, evaluation)
        save_final = checkpoint.with_name(checkpoint.stem + ".final.pt")
        save_final.parent.mkdir(parents=True, exist_ok=True)
        torch.save({"method": method.state_dict(), "ema": ema.module.state_dict(), "config": cfg.to_dict()},
                   save_final)
        record["checkpoint"] = str(save_final)
        checkpoint.unlink(missing_ok=True)
        record["status"] = "ok"
    except KeyboardInterrupt:
        tracker.end("KILLED")
        raise
    except Exception as err:  # one failed cell must not stop the others
        record["reason"] = f"{type(err).__name__}: {err}"
        record["traceback"] = traceback.format_exc(limit=6)
    wall["total"] = time.perf_counter() - start
    record["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record["tracking"] = tracker.summary()
    write_record(record_path, record)
    tracker.log_artifact(record_path)
    if record.get("samples"):
        tracker.log_artifact(stem.with_suffix(".samples.npz"))
    tracker.end("FINISHED" if record["status"] == "ok" else "FAILED")
    if tracker.error and record["tracking"]["status"] == "ok":
        record["tracking"] = tracker.summary()
        write_record(record_path, record)
    return CellOutcome(cfg.method, cfg.seed, record["status"], record_path, record["reason"])
