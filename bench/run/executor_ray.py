"""The Ray executor (`bench run --executor ray`): every pending cell is one Ray task, so the matrix can use the
nodes of a cluster. The driver (bench/run/runner.py) plans the matrix and skips finished cells as it does for a local
run; here it joins the cluster (or starts a Ray instance on 127.0.0.1), holds each cell's lock in the output
directory while its task runs, and writes what the task returns.

A task trains its cell with bench/run/job.py in a scratch directory on its node and returns the record, the samples
and the final checkpoint as bytes; the driver writes each atomically where the local executor would, the record
last. So the nodes share no file system, and a record is either whole or absent. A worker that dies is replaced
by Ray (`max_retries`); a cell started again on the same node resumes from the checkpoint in its scratch
directory. Ctrl-C cancels the tasks that have not started and asks the running ones to stop at their next step."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ray
import torch

from bench.core.errors import UsageError
from bench.core.fingerprint import changed_files, code_fingerprint
from bench.core.records import Record, write_atomic
from bench.run.executor import Progress, Report, Start
from bench.run.job import Cell, CellOutcome, JobSettings, claimed, run_cell
from bench.run.tracking import HTTP_SETTINGS, first_line, quiet_tracking_logs, shown_uri
from methods import METHODS
from tasks import SUITES

if TYPE_CHECKING:
    from bench.run.plan import RunRequest

RETRIES = 2  # a cell whose worker died starts again this many times, as the local executor restarts its pool
CONTACT_S = 0.5  # how often at most a task sends its progress and learns whether the run is stopping
WAIT_S = 0.5  # how long the driver waits for results between progress updates
DIED = (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError, ray.exceptions.OutOfMemoryError,
        ray.exceptions.LocalRayletDiedError)


def dial(address: str) -> None:
    """Fail in seconds where nothing answers at `address`: ray.init would wait without end. Ray dials a loopback
    host as this machine's network address, and so does this check."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", ray://, ...: Ray's own rules
    if host.strip("[]") in ("localhost", "127.0.0.1", "::1"):
        host = ray.util.get_node_ip_address()
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except OSError as err:
        raise UsageError(f"--ray-address {address}: no Ray cluster answers at {host}:{port} "
                         f"({err.strerror or err}); start one with 'ray start --head' and give its address") from None


def connect(address: str | None) -> None:
    """Join the cluster at `address`, or start a Ray instance on this machine (127.0.0.1, no dashboard)."""
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}  # worker output would break the bars
    if address:
        dial(address)
    try:
        if address:
            ray.init(address=address, **quiet)
        else:
            ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, **quiet)
    except Exception as err:  # Ray says why in ConnectionError, RuntimeError or ValueError
        where = f"join the Ray cluster at {address}" if address else "start a local Ray instance"
        hint = ("; a cluster with token authentication (Ray's default where ~/.ray/auth_token exists) needs "
                "RAY_AUTH_MODE=token and its token here too" if address and "RAY_AUTH_MODE" not in os.environ else "")
        raise UsageError(f"--executor ray: cannot {where} ({first_line(err)}){hint}") from None


def alive_nodes() -> list[dict[str, Any]]:
    return [node for node in ray.nodes() if node["Alive"]]


def describe_cluster(device: str, threads: int) -> str:
    nodes, resources = len(alive_nodes()), ray.cluster_resources()
    return (f"bench: a Ray cluster of {nodes} node{'s' * (nodes > 1)}, {resources.get('CPU', 0):g} CPUs and "
            f"{resources.get('GPU', 0):g} GPUs; each cell on {device} with {threads} thread{'s' * (threads > 1)}")


def cluster_device(name: str) -> str:
    """auto: cuda when the cluster has a GPU, wherever the driver runs."""
    gpus = ray.cluster_resources().get("GPU", 0)
    if name == "cuda" and not gpus:
        raise UsageError("--device cuda was asked for but the Ray cluster has no GPU; use --device cpu or auto")
    return "cuda" if name == "cuda" or (name == "auto" and gpus) else "cpu"


def check_threads(threads: int) -> None:
    """A cell that no node has the CPUs for would wait for them without end."""
    largest = max(node["Resources"].get("CPU", 0) for node in alive_nodes())
    if threads > largest:
        raise UsageError(f"--cell-threads {threads}: no node of the Ray cluster has that many CPUs (the largest has "
                         f"{largest:g})")


def on_this_machine(uri: str) -> bool:
    """A sqlite database or a file store: a file on the driver's disk, out of the other nodes' reach."""
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    return scheme in ("sqlite", "file") or (not scheme and not uri.startswith("databricks"))


def check_store(uri: str, out: Path) -> None:
    nodes = len(alive_nodes())
    if nodes > 1 and on_this_machine(uri):
        raise UsageError(f"the tracking store {shown_uri(uri, out)} is a file on this machine, which the other "
                         f"nodes of this {nodes}-node Ray cluster cannot reach; pass a tracking server's URI, e.g. "
                         "--tracking-uri http://HEAD:5000 with 'mlflow server --host 0.0.0.0 --port 5000' running "
                         "on the head node; nothing was trained")


def scratch_key(out: Path) -> str:
    """Names a run's scratch directory on every node, after the driver's machine and output directory: a rerun
    of the same command finds the checkpoints its cells left there."""
    return hashlib.sha256(f"{socket.gethostname()}:{out.resolve()}".encode()).hexdigest()[:12]


def scratch_dir(key: str) -> Path:
    return Path(tempfile.gettempdir()) / "muni-bench-ray" / key


@ray.remote(num_cpus=0)
class Coordinator:
    """Beside the driver: tasks report when they start and how far they got, the driver collects the reports,
    and a stop request reaches the tasks in the replies."""

    def __init__(self) -> None:
        self.stopping = False
        self.attempts: dict[str, int] = {}
        self.events: list[tuple] = []

    def start(self, key: str) -> bool:
        if not self.stopping:
            self.attempts[key] = self.attempts.get(key, 0) + 1
            self.events.append(("start", key, self.attempts[key]))
        return self.stopping

    def step(self, key: str, step: int, terms: dict[str, float] | None, total: int) -> bool:
        self.events.append(("step", key, step, terms, total))
        return self.stopping

    def poll(self) -> bool:
        return self.stopping

    def drain(self) -> list[tuple]:
        events, self.events = self.events, []
        return events

    def stop(self) -> list[str]:
        """Stop: returns the cells that started before it; any that start later hear it at once."""
        self.stopping = True
        return list(self.attempts)


class Link:
    """A task's side of the coordinator. It never waits for an answer (a task blocked in ray.get lends its CPUs
    to another task): messages go out, and the stop flag is read from the latest reply that has arrived."""

    def __init__(self, coordinator, key: str):
        self.coordinator, self.key = coordinator, key
        self.stopping = False
        self.stepped = False
        self.send(coordinator.start.remote(key))

    def send(self, reply) -> None:
        self.reply, self.sent = reply, time.monotonic()

    def due(self) -> bool:
        return time.monotonic() - self.sent >= CONTACT_S

    def read(self) -> None:
        ready, _ = ray.wait([self.reply], timeout=0)
        self.stopping = self.stopping or bool(ready and ray.get(ready[0]))

    def step(self, step: int, terms: dict[str, float] | None, total: int) -> None:
        # the first report must go: the progress bar counts a resumed cell's steps from it
        if not self.stepped or step == total or self.due():
            self.stepped = True
            self.read()
            self.send(self.coordinator.step.remote(self.key, step, terms, total))

    def should_stop(self) -> bool:
        if self.due():  # also while evaluating, when no steps go out
            self.read()
            self.send(self.coordinator.poll.remote())
        return self.stopping


@dataclass
class Finished:
    """What a task returns: its outcome, and the files to write by their path relative to the output directory
    (the record last)."""

    status: str
    reason: str | None = None
    tracking_error: str | None = None
    notes: list[str] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)


_SUITES: dict[str, Any] = {}  # a worker process reuses a suite's generated data across the cells it runs


@ray.remote
def train_remote(cell: Cell, settings: JobSettings, device: str, threads: int, scratch: str,
                 coordinator) -> Finished:
    """Train one cell in this node's scratch directory and return its files."""
    torch.set_num_threads(threads)
    quiet_tracking_logs()
    for key, value in HTTP_SETTINGS.items():  # a worker has its node's environment, not the driver's
        os.environ.setdefault(key, value)
    link = Link(coordinator, cell.key)
    here = code_fingerprint(METHODS.get(cell.cfg.method).__module__, SUITES.get(cell.cfg.suite).__module__,
                            media=bool(cell.cfg.media.weights))
    if here["fingerprint"] != cell.code["fingerprint"]:
        changed = ", ".join(changed_files(cell.code["files"], here["files"]))
        return Finished("failed", f"node {socket.gethostname()} has other code than the driver (changed: {changed}); "
                        "install the driver's commit on every node")
    local = Cell(cell.cfg, scratch_dir(scratch), cell.code)
    local.record.unlink(missing_ok=True)  # left by an attempt that died before returning: it is not this run's
    outcome = run_cell(local, replace(settings, out=local.out), torch.device(device), _SUITES, link.step,
                       link.should_stop)
    return Finished(outcome.status, outcome.reason, outcome.tracking_error, outcome.notes, take_files(local))


def take_files(cell: Cell) -> dict[str, bytes]:
    """The cell's record and the files it names (samples, final checkpoint), read and removed from the scratch
    directory."""
    if not cell.record.exists():
        return {}
    record = Record.from_json(json.loads(cell.record.read_text()))
    paths = [cell.record.with_name(record.samples)] if record.samples else []
    paths += [cell.out / record.checkpoint] if record.checkpoint else []
    paths.append(cell.record)
    files = {path.relative_to(cell.out).as_posix(): path.read_bytes() for path in paths}
    for path in paths:
        path.unlink()
    return files


def failure(err: ray.exceptions.RayError) -> str:
    if isinstance(err, DIED):
        return (f"its worker died {RETRIES + 1} times ({first_line(err)}); no record was written, and a rerun "
                "trains it again")
    return first_line(err)


@dataclass
class RayExecutor:
    """Cells as Ray tasks on a cluster (this module's run_ray)."""

    request: RunRequest
    uri: str  # the tracking store the driver set up

    def run(self, cells: list[Cell], start: Start, progress: Progress, report: Report) -> bool:
        return run_ray(self.request, cells, self.uri, start, progress, report)


def run_ray(request: RunRequest, cells: list[Cell], uri: str, start: Callable[[Path | None], JobSettings],
            progress: Progress, report: Callable[[Cell, CellOutcome], None]) -> bool:
    """Run `cells` as Ray tasks; `start` prepares tracking once the cluster is known. Returns whether Ctrl-C
    stopped the run."""
    try:
        connect(request.ray_address)
        device = cluster_device(request.device)
        check_threads(request.cell_threads)
        check_store(uri, request.out)
        progress.write(describe_cluster(device, request.cell_threads))
        # a tracking server keeps the artifacts itself: a path on the driver's disk means nothing on other nodes
        settings = start(request.out / "mlruns" if on_this_machine(uri) else None)
        return run_tasks(request, cells, settings, device, progress, report)
    finally:
        ray.shutdown()


def run_tasks(request: RunRequest, cells: list[Cell], settings: JobSettings, device: str, progress: Progress,
              report: Callable[[Cell, CellOutcome], None]) -> bool:
    coordinator = Coordinator.remote()
    resources = {"num_cpus": request.cell_threads, "num_gpus": 1 if device == "cuda" else 0}
    scratch = scratch_key(request.out)
    waiting, running, dropped = list(cells), {}, set()
    limit = request.workers or len(cells)  # 0: as many as the cluster has room for

    def submit() -> None:
        while waiting and len(running) < limit:
            cell = waiting.pop(0)
            claim = held.enter_context(ExitStack())
            refused = claim.enter_context(claimed(cell, settings))
            if refused:
                claim.close()
                report(cell, refused)
                continue
            task = train_remote.options(name=f"bench-cell {cell.key}", max_retries=RETRIES, retry_exceptions=False,
                                        **resources)  # the name is the worker's process title while it trains
            ref = task.remote(cell, settings, device, request.cell_threads, scratch, coordinator)
            running[ref] = (cell, claim)

    def update() -> None:
        for kind, key, *rest in ray.get(coordinator.drain.remote()):
            if kind == "step":
                progress.step(key, *rest)
                continue
            progress.started(key)
            attempt = rest[0]
            if attempt > 1:
                progress.write(f"bench: the worker training {key} died; Ray starts the cell again (attempt "
                               f"{attempt} of {RETRIES + 1}; it resumes from its checkpoint on the same node)")

    def settle() -> None:
        ready = ray.wait(list(running), num_returns=len(running), timeout=WAIT_S)[0] if running else []
        update()
        for ref in ready:
            cell, claim = running.pop(ref)
            with claim:
                finish(cell, ref)

    def finish(cell: Cell, ref) -> None:
        try:
            result = ray.get(ref)
        except ray.exceptions.TaskCancelledError:
            return  # cancelled by Ctrl-C before it trained: the runner lists it as not started
        except ray.exceptions.RayError as err:
            report(cell, CellOutcome(cell.cfg.method, cell.cfg.seed, "failed", cell.record, failure(err)))
            return
        if ref in dropped:
            return
        for name, data in result.files.items():
            write_atomic(request.out / name, lambda f, data=data: f.write(data))
        report(cell, CellOutcome(cell.cfg.method, cell.cfg.seed, result.status, cell.record, result.reason,
                                 result.tracking_error, result.notes))

    with ExitStack() as held:  # every cell lock this driver holds, released however the run ends
        try:
            while waiting or running:
                submit()
                settle()
            return False
        except KeyboardInterrupt:
            progress.write("bench: stopping: cells not started are cancelled, running cells stop at their next step "
                           "and keep their checkpoint (Ctrl-C again to stop at once)")
            waiting.clear()
            started = set(ray.get(coordinator.stop.remote()))
            for ref, (cell, _) in running.items():
                if cell.key not in started:
                    dropped.add(ref)
                    ray.cancel(ref)
            try:
                while running:
                    settle()
            except KeyboardInterrupt:
                for ref, (cell, _) in running.items():
                    ray.cancel(ref, force=True)  # kills the worker: its last checkpoint stays on its node
                    if ref not in dropped:
                        report(cell, CellOutcome(cell.cfg.method, cell.cfg.seed, "interrupted", cell.record,
                                                 "stopped at once by a second Ctrl-C"))
                ray.wait(list(running), num_returns=len(running), timeout=10)
            return True
