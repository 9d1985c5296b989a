"""The runner: the matrix suite × methods × seeds. Cells whose record was made with the same resolved config by
the same code are skipped, so an interrupted run resumes; a failed cell is recorded with its reason and the
others still run. Ctrl-C stops cleanly: cells not started leave nothing, running cells keep their checkpoint
(and are recorded as interrupted only when asked), and the run reports exit status 130. Cells run through an executor
(bench/run/executor.py): in processes on this machine (bench/run/executor_local.py) or as Ray tasks on a cluster
(bench/run/executor_ray.py); planning, skipping and tracking are the same."""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from bench.core.records import git_state
from bench.run.executor import Executor, Progress
from bench.run.executor_local import LocalExecutor
from bench.run.job import Cell, CellOutcome, JobSettings
from bench.run.plan import RunRequest, pick_device, plan
from bench.run.tracking import TrackingSetup, prepare_tracking, store_uri

DIVERGED = "TrainingDiverged"  # how a diverged cell's reason begins (bench/run/train.py)


class TrackingUnavailable(RuntimeError):
    """--require-tracking was given and the store cannot be used."""


@dataclass
class RunResult:
    outcomes: list[CellOutcome]  # in plan order
    interrupted: bool = False
    tracking: TrackingSetup | None = None  # None when no cell needed training

    def count(self, status: str) -> int:
        return sum(o.status == status for o in self.outcomes)


def diverged(cell: Cell, record) -> bool:
    """Whether the cell's record, made by this code with this config, says training diverged."""
    return (record is not None and record.status == "failed" and (record.reason or "").startswith(DIVERGED)
            and record.config_hash == cell.cfg.config_hash() and cell.made_it(record))


def run(request: RunRequest) -> RunResult:
    """Run every pending cell, `request.workers` at a time, here or on Ray. Outcomes come back in plan order."""
    planned = plan(request)
    request = planned.request  # as it will run (--workers capped to the cores)
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
            progress.write(f"  {cell.key}: already done ({cell.record})")
            continue
        if request.skip_diverged and not request.force and diverged(cell, record):
            done[cell.key] = CellOutcome(cell.cfg.method, cell.cfg.seed, "failed", cell.record, record.reason)
            progress.write(f"  {cell.key}: diverged before ({cell.record}); not retried")
            continue
        if state == "stale":
            progress.write(f"  {cell.key}: {cell.why_stale(record)}; training again")
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

    executor: Executor
    if request.executor == "ray":
        from bench.run.executor_ray import RayExecutor  # imports ray: only when it is asked for

        executor = RayExecutor(request, uri)
    else:
        executor = LocalExecutor(device, request.workers, request.out)
    interrupted = executor.run(pending, start, progress, report)
    progress.close()
    for cell in pending:  # cells a Ctrl-C kept from starting
        done.setdefault(cell.key, CellOutcome(cell.cfg.method, cell.cfg.seed, "not_started", cell.record))
    return RunResult([done[c.key] for c in cells], interrupted, prepared[0] if prepared else None)
