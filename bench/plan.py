"""The planning layer: the one place that turns a run request (methods, suite, profile, seeds, settings, executor,
output, tracking) into validated cells. The command line, the Python API (`bench.runner.run`), both executors
and scripts/ go through `plan`, so every rule holds however a run is started; each broken rule is one
UsageError line (the command line's exit 2), raised before anything is written or trained."""
from __future__ import annotations

import importlib.util
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench.config import PROFILES, resolve, validate_overrides
from bench.errors import ConfigError, UsageError
from bench.fingerprint import code_fingerprint
from bench.job import Cell
from methods import METHODS
from tasks import SUITES

MAX_SEED = 2**31 - 1
EXECUTORS = ("local", "ray")


@dataclass
class RunRequest:
    suite: str
    methods: list[str] | str  # method names, or "all": every method that can train on the suite (others noted)
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
    record_interrupted: bool = False  # write a record with status "interrupted" for cells stopped by Ctrl-C
    require_tracking: bool = False  # stop before any cell when the tracking store cannot be used
    executor: str = "local"  # local: processes on this machine; ray: one Ray task per cell (bench/executor_ray.py)
    ray_address: str | None = None  # the Ray cluster to use; None: start a Ray instance on this machine
    cell_threads: int = 1  # CPU threads per cell under Ray (the CPUs Ray reserves for it)


@dataclass
class Plan:
    request: RunRequest
    methods: list[str]  # in the order asked, each once
    seeds: list[int]
    cells: list[Cell]  # methods × seeds, resolved
    notes: list[str] = field(default_factory=list)  # what the plan changed or left out, for the user


def repeats(items: list, flag: str, notes: list[str]) -> list:
    """Each name or seed once, in the order given; a repeat is dropped with a note, never trained twice."""
    kept = list(dict.fromkeys(items))
    if len(kept) < len(items):
        repeated = sorted({str(i) for i in items if items.count(i) > 1})
        notes.append(f"{flag} names {', '.join(repeated)} more than once; each runs once")
    return kept


def check_methods(methods: list[str] | str, notes: list[str]) -> tuple[list[str], bool]:
    """(the method names, whether they are "all"); unknown names list the available ones."""
    if methods == "all" or methods == ["all"]:
        return METHODS.names(), True
    if isinstance(methods, str):
        methods = [methods]
    if not methods:
        raise UsageError("--methods is empty; give 'all' or method names (see 'bench list methods')")
    for name in methods:
        METHODS.get(name)
    return repeats(list(methods), "--methods", notes), False


def trainable_on(suite: str, methods: list[str], everything: bool) -> tuple[list[str], dict[str, str]]:
    """The methods that can train on the suite's data: not those that need complete tuples where training samples
    miss modalities (the paper leaves MVAE and HELVAE out of §6.3 for this reason), nor those limited to modality
    kinds the suite lacks (FlowBind: vectors). With everything ("all") they are left out, and each reason is
    returned; naming one is a usage error. A suite or method that declares no modality_kinds takes any."""
    suite_cls = SUITES.get(suite)
    reasons = {}
    for m in methods:
        kinds, has = METHODS.get(m).modality_kinds, suite_cls.modality_kinds
        if suite_cls.partial_tuples and METHODS.get(m).needs_full_tuples:
            reasons[m] = f"it trains on complete tuples only, and {suite} trains on pairs"
        elif kinds and has and not set(has) <= set(kinds):
            reasons[m] = f"it handles {', '.join(kinds)} modalities only, and {suite} has {', '.join(has)}"
    if reasons and not everything:
        m = next(iter(reasons))
        raise UsageError(f"{m} cannot train on {suite}: {reasons[m]}; leave it out (--methods all does)")
    return [m for m in methods if m not in reasons], reasons


def methods_for(suite: str, methods: list[str] | str, notes: list[str]) -> list[str]:
    """The methods of a request that train on the suite, with a note for each that `all` left out."""
    names, everything = check_methods(methods, notes)
    kept, left_out = trainable_on(suite, names, everything)
    notes.extend(f"leaving out {m}: {why}" for m, why in left_out.items())
    return kept


def check_profile(name: str) -> None:
    if name not in PROFILES:
        raise UsageError(f"unknown profile '{name}'; available: {', '.join(PROFILES)}")


def check_seeds(seeds: list[int], notes: list[str]) -> list[int]:
    if not seeds:
        raise UsageError("--seeds is empty; give at least one seed, e.g. --seeds 0")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise UsageError(f"--seeds: {seed!r} is out of range; a seed is an integer from 0 to {MAX_SEED}")
    return repeats(list(seeds), "--seeds", notes)


def check_executor(request: RunRequest) -> None:
    """Ray's options only with executor ray, and Ray itself installed (found, not imported: that takes seconds)."""
    if request.executor not in EXECUTORS:
        raise UsageError(f"unknown executor '{request.executor}'; available: {', '.join(EXECUTORS)}")
    if request.executor == "ray":
        if importlib.util.find_spec("ray") is None:
            raise UsageError("--executor ray needs Ray, which is not installed: pip install -e '.[ray]'")
        if request.ray_address is not None and not request.ray_address.strip():
            raise UsageError("--ray-address is empty; give the cluster's address such as HEAD:6379, or leave it "
                             "out to start a Ray instance here")
        if request.cell_threads < 1:
            raise UsageError(f"--cell-threads must be at least 1, got {request.cell_threads}")
        return
    if request.ray_address is not None:
        raise UsageError("--ray-address is an option of --executor ray; add --executor ray or leave it out")
    if request.workers < 0:
        raise UsageError(f"--workers must be 0 (auto) or a positive number, got {request.workers}")


def pick_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for but no CUDA device is available; use --device cpu or auto")
    if name != "cpu":
        raise ValueError(f"unknown device '{name}'; available: auto, cpu, cuda")
    return torch.device(name)


def check_device(request: RunRequest) -> None:
    if request.executor != "local":  # under Ray the cluster's devices count, not this machine's
        return
    try:
        pick_device(request.device)
    except ValueError as err:
        raise UsageError(str(err)) from None


def check_tracking(request: RunRequest) -> None:
    if request.tracking_uri is not None and not request.tracking_uri.strip():
        raise UsageError("--tracking-uri is empty; give a URI such as sqlite:///results/mlflow.db or "
                         "http://127.0.0.1:5000, or leave it out")


def writable_directory(path: Path, flag: str) -> None:
    """Fail before any work when `path` cannot hold output (a file in the way, no permission), leaving nothing
    behind: writability is tried with a temporary file in the nearest existing folder."""
    if not str(path).strip():
        raise UsageError(f"{flag} is empty; give a directory")
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise UsageError(f"{flag} {path}: {existing} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise UsageError(f"{flag} {path}: {existing} is not writable ({err.strerror})") from None


def resolved_cells(request: RunRequest, methods: list[str], seeds: list[int]) -> list[Cell]:
    """Every cell of the matrix, resolved (so config mistakes stop the run before any training)."""
    suite_module = SUITES.get(request.suite).__module__
    fingerprints: dict[str, dict[str, Any]] = {}
    cells = []
    for method in methods:
        fingerprints[method] = code_fingerprint(METHODS.get(method).__module__, suite_module)
        for seed in seeds:
            cfg = resolve(request.suite, method, seed, request.profile, request.overrides)
            cells.append(Cell(cfg, request.out, fingerprints[method]))
    return cells


def plan(request: RunRequest) -> Plan:
    """The request checked rule by rule and resolved into cells; UsageError (one line) for the first broken rule.
    Nothing is written or trained here."""
    notes: list[str] = []
    SUITES.get(request.suite)
    check_profile(request.profile)
    methods = methods_for(request.suite, request.methods, notes)
    seeds = check_seeds(request.seeds, notes)
    try:
        validate_overrides(list(request.overrides), request.suite, methods)
        check_tracking(request)
        check_executor(request)
        check_device(request)
        cells = resolved_cells(request, methods, seeds)
    except ConfigError as err:
        raise UsageError(str(err)) from None
    writable_directory(Path(request.out), "--out")
    return Plan(request, methods, seeds, cells, notes)
