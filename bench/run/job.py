"""One cell as a job: hold the cell's lock, train and evaluate it (bench/run/cell.py), track it in MLflow and write
its record. One writer per cell: the lock is a file lock (released by the OS if the process dies), so two runs
into one output directory never train the same cell at once or read each other's in-flight checkpoints."""
from __future__ import annotations

import hashlib
import json
import platform
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
import yaml
from filelock import FileLock, Timeout

from bench.core.config import SHAPING, CellConfig
from bench.core.fingerprint import changed_files, same_code
from bench.core.records import Record, cell_stem, portable_traceback, record_state, write_record, write_samples
from bench.run.cell import train_and_evaluate
from bench.run.checkpoint import previous
from bench.run.media_stage import media_metrics
from bench.run.tracking import Tracker, TrackingSetup
from bench.run.train import CellInterrupted
from methods import METHODS
from tasks import SUITES


@dataclass
class Cell:
    """A planned cell: its config, where its files go, and the fingerprint of the code that will make it."""

    cfg: CellConfig
    out: Path
    code: dict[str, Any]
    label: str = ""  # what sets it apart from cells of the same method and seed in one run (a tuning trial)

    @property
    def stem(self) -> Path:
        cfg = self.cfg
        return cell_stem(self.out, cfg.suite, cfg.profile, cfg.method, cfg.config_hash(), cfg.seed)

    @property
    def record(self) -> Path:
        return self.stem.with_suffix(".json")

    @property
    def checkpoint(self) -> Path:
        """Named by the code fingerprint and the settings that shape a record outside its hash (config.SHAPING)
        too: after a change to either, a cell starts afresh instead of resuming training begun otherwise."""
        place = self.out / "checkpoints" / self.stem.relative_to(self.out)
        made_by = json.dumps([self.code["fingerprint"], self.cfg.shaping_settings()], sort_keys=True)
        return place.with_name(f"{place.name}-{hashlib.sha256(made_by.encode()).hexdigest()[:12]}.pt")

    @property
    def lock(self) -> Path:
        return (self.out / "checkpoints" / self.stem.relative_to(self.out)).with_suffix(".lock")

    @property
    def key(self) -> str:
        return f"{self.cfg.method} s{self.cfg.seed}" + (f" {self.label}" if self.label else "")

    def state(self) -> tuple[str, Record | None]:
        state, record = record_state(self.record, self.cfg.config_hash(), self.made_it)
        if state == "done" and self.other_settings(record):
            return "stale", record
        return state, record

    def other_settings(self, record: Record) -> dict[str, Any]:
        """The SHAPING settings the record was made with where they differ from this cell's (a setting the record
        predates is not compared)."""
        current = self.cfg.shaping_settings()
        made_with = {f"{section}.{name}": (record.config.get(section) or {}).get(name)
                     for section, names in SHAPING.items() for name in names}
        return {key: value for key, value in made_with.items() if value is not None and value != current[key]}

    def why_stale(self, record: Record) -> str:
        other = self.other_settings(record)
        if other:
            return f"its record was made with {', '.join(f'{k}={v}' for k, v in other.items())}"
        recorded = record.code.get("files")
        why = (f"changed: {', '.join(changed_files(recorded, self.code['files']))}" if recorded
               else "made before records kept a code fingerprint")
        return f"its record was made by other code ({why})"

    def made_it(self, record: Record) -> bool:
        """Whether this cell's code made the record (bench/core/fingerprint.py reads older fingerprint schemes too)."""
        return same_code(record.code, record.git, self.code, METHODS.get(self.cfg.method).__module__,
                         SUITES.get(self.cfg.suite).__module__, media=bool(self.cfg.media.weights))


@dataclass
class JobSettings:
    """What every cell of a run shares."""

    out: Path
    tracking: TrackingSetup
    command: str = ""
    git: dict[str, Any] = field(default_factory=dict)
    force: bool = False
    record_interrupted: bool = False


@dataclass
class CellOutcome:
    method: str
    seed: int
    status: str  # ok | failed | skipped | busy | interrupted | not_started
    record: Path
    reason: str | None = None
    tracking_error: str | None = None
    notes: list[str] = field(default_factory=list)


def describe_device(device: torch.device) -> dict[str, Any]:
    if device.type == "cuda":
        return {"type": "cuda", "name": torch.cuda.get_device_name(device)}
    return {"type": "cpu", "name": platform.processor() or platform.machine(), "threads": torch.get_num_threads()}


ProgressFn = Callable[[int, "dict[str, float] | None", int], None]  # (step, loss terms or None, total steps)


@contextmanager
def claimed(cell: Cell, settings: JobSettings) -> Iterator[CellOutcome | None]:
    """Hold the cell's lock for the body; yields None when this run should train the cell, else the outcome that
    says why not: another process holds it (busy) or finished it meanwhile (skipped)."""
    cell.lock.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(cell.lock), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        yield CellOutcome(cell.cfg.method, cell.cfg.seed, "busy", cell.record,
                          "another run is training this cell (its lock is held)")
        return
    try:
        if not settings.force and cell.state()[0] == "done":
            yield CellOutcome(cell.cfg.method, cell.cfg.seed, "skipped", cell.record, "finished by another run")
        else:
            yield None
    finally:
        lock.release()


def run_cell(cell: Cell, settings: JobSettings, device: torch.device, suites: dict[str, Any],
             on_step: ProgressFn | None = None, should_stop: Callable[[], bool] | None = None) -> CellOutcome:
    """Train the cell unless another process holds it (busy) or finished it meanwhile (skipped)."""
    with claimed(cell, settings) as refused:
        return refused or train_cell(cell, settings, device, suites, on_step, should_stop)


def log_cell_artifacts(tracker: Tracker, suite, cfg: CellConfig, evaluation) -> None:
    """The resolved config and a figure of the cell's samples, as MLflow artifacts (not kept in results/)."""
    if tracker.run_id is None:
        return
    from bench.figures.plots import cell_figure  # matplotlib: only when there is a run to log to

    with tempfile.TemporaryDirectory() as folder:
        config = Path(folder) / "config.yaml"
        config.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        tracker.log_artifact(config)
        figure = cell_figure(suite, cfg.method, evaluation, Path(folder) / "samples.png")
        if figure is not None:
            tracker.log_artifact(figure)


def train_cell(cell: Cell, settings: JobSettings, device: torch.device, suites: dict[str, Any],
               on_step: ProgressFn | None, should_stop: Callable[[], bool] | None) -> CellOutcome:
    cfg, stem, out = cell.cfg, cell.stem, settings.out
    tracker = Tracker(settings.tracking, experiment=cfg.suite, artifact_root=out / "mlruns")
    tracker.start(f"{cfg.method}-seed{cfg.seed}", cfg.flat(),
                  {"suite": cfg.suite, "method": cfg.method, "seed": str(cfg.seed), "profile": cfg.profile,
                   "config_hash": cfg.config_hash(), "code_fingerprint": cell.code["fingerprint"]},
                  keep=cell.checkpoint.with_suffix(".mlflow_run"))
    record = Record(
        suite=cfg.suite, method=cfg.method, seed=cfg.seed, profile=cfg.profile, config_hash=cfg.config_hash(),
        status="failed", config=cfg.to_dict(), git=settings.git, device=describe_device(device), wall_time={},
        overrides=cfg.overrides, command=settings.command, code=cell.code,
        versions={"python": platform.python_version(), "torch": torch.__version__},
        capabilities=METHODS.get(cfg.method).capabilities.directions(),
        started_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    wall, notes = record.wall_time, record.notes
    start = time.perf_counter()
    marks: dict[str, Any] = {"train": start, "total": cfg.train.steps}

    def stepped(step: int, terms: dict[str, float] | None) -> None:
        marks["step"] = step
        if on_step:
            on_step(step, terms, marks["total"])

    def budgeted(budget: dict[str, Any]) -> None:
        marks["total"] = budget["steps"]

    def check_stop(_: str = "") -> None:
        if should_stop and should_stop():
            raise CellInterrupted("stopped during evaluation")

    def trained(summary) -> None:
        marks["eval"] = time.perf_counter()
        wall["train"] = marks["eval"] - marks["train"]
        record.train = {"steps": summary.steps, "resumed_from": summary.resumed_from,
                           "final_terms": summary.final_terms, "samples_per_second": summary.samples_per_second,
                           "loss_curve": summary.loss_curve}
        notes.extend(summary.notes)

    try:
        key = repr(cfg.data)
        if key not in suites:
            suites[key] = SUITES.get(cfg.suite)(cfg.data)
        suite = suites[key]
        record.data = suite.describe()
        wall["data"] = time.perf_counter() - start
        marks["train"] = time.perf_counter()
        result = train_and_evaluate(cfg, suite, device, log=tracker.log_metrics, checkpoint=cell.checkpoint,
                                    on_step=stepped, should_stop=should_stop, progress=check_stop,
                                    on_trained=trained, on_budget=budgeted)
        wall["eval"] = time.perf_counter() - marks["eval"]
        evaluation = result.evaluation
        if cfg.media.weights:
            started = time.perf_counter()
            evaluation.metrics.update(media_metrics(cfg, suite, result.ema.module, device, check_stop))
            wall["media"] = time.perf_counter() - started
        record.parameters = result.parameters
        record.train["checks"], record.rungs = result.checks, result.rungs
        record.budget = result.budget | {"wall_seconds": wall["train"]}
        wall["eval_tasks"] = evaluation.timings
        record.metrics = {k: r.as_dict() for k, r in evaluation.metrics.items()}
        record.references = evaluation.references
        tracker.log_metrics({k: r.value for k, r in evaluation.metrics.items() if r.value is not None},
                            result.summary.steps)
        if evaluation.samples:
            write_samples(stem.with_suffix(".samples.npz"), evaluation.samples)
            record.samples = stem.with_suffix(".samples.npz").name
        log_cell_artifacts(tracker, suite, cfg, evaluation)
        final = cell.checkpoint.with_name(cell.checkpoint.stem + ".final.pt")
        torch.save({"method": result.method.state_dict(), "ema": result.ema.module.state_dict(),
                    "config": cfg.to_dict()}, final)
        record.checkpoint = final.relative_to(out).as_posix()
        for leftover in (cell.checkpoint, previous(cell.checkpoint), cell.checkpoint.with_suffix(".cost.json")):
            leftover.unlink(missing_ok=True)
        record.status = "ok"
    except (CellInterrupted, KeyboardInterrupt) as err:
        tracker.end("KILLED")
        reason = f"interrupted: {err}" if str(err) else "interrupted by the user"
        if settings.record_interrupted:
            notes[:] = [portable_traceback(n, out) for n in notes]
            record.status, record.reason, record.reached_step = "interrupted", reason, marks.get("step")
            record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            record.tracking = tracker.summary()
            wall["total"] = time.perf_counter() - start
            write_record(cell.record, record)
        return CellOutcome(cfg.method, cfg.seed, "interrupted", cell.record, reason, tracker.error, notes)
    except Exception as err:  # one failed cell must not stop the others
        record.reason = f"{type(err).__name__}: {err}"
        record.traceback = portable_traceback(traceback.format_exc(limit=6), out)
    wall["total"] = time.perf_counter() - start
    notes[:] = [portable_traceback(n, out) for n in notes]
    if record.reason:
        record.reason = portable_traceback(record.reason, out)
    record.finished_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    record.tracking = tracker.summary()
    write_record(cell.record, record)
    tracker.log_artifact(cell.record)
    if record.samples:
        tracker.log_artifact(stem.with_suffix(".samples.npz"))
    tracker.end("FINISHED" if record.status == "ok" else "FAILED")
    if tracker.error and record.tracking["status"] == "ok":
        record.tracking = tracker.summary()
        write_record(cell.record, record)
    return CellOutcome(cfg.method, cfg.seed, record.status, cell.record, record.reason, tracker.error, notes)
