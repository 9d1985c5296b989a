"""The planning layer: the one place that turns a run request (methods, suite, profile, seeds, settings, executor,
output, tracking) into validated cells. The command line, the Python API (`bench.run.runner.run`), both executors
and scripts/ go through `plan`, so every rule holds however a run is started; each broken rule is one
UsageError line (the command line's exit 2), raised before anything is written or trained."""
from __future__ import annotations

import importlib
import importlib.util
import os
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from bench.core.config import PROFILES, resolve, validate_overrides
from bench.core.errors import ConfigError, UsageError
from bench.core.fingerprint import code_fingerprint
from bench.core.tuned import as_overrides, read_tuned, tuned_path
from bench.run.job import Cell
from methods import METHODS
from tasks import SUITES

MAX_SEED = 2**31 - 1
EXECUTORS = ("local", "ray")
# a documented bound instead of a probe: no device here trains one step of any method faster than this, so a
# budget whose steps at this pace exceed LONG_RUN_SECONDS is refused unless the user confirms it (--yes)
FASTEST_STEP_SECONDS = 1e-3
LONG_RUN_SECONDS = 7 * 24 * 3600
MIN_EVAL_TUPLES = 8  # a bootstrap interval or a Fréchet distance over fewer tuples means nothing
MEMORY_SHARE = 0.8  # the data of one cell may take at most this share of the machine's memory


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
    executor: str = "local"  # local: processes on this machine; ray: one Ray task per cell (bench/run/executor_ray.py)
    ray_address: str | None = None  # the Ray cluster to use; None: start a Ray instance on this machine
    cell_threads: int = 1  # CPU threads per cell under Ray (the CPUs Ray reserves for it)
    yes: bool = False  # confirm a budget longer than LONG_RUN_SECONDS of training per cell
    tuned: str = "on"  # on: each method at its tuned settings (<out>/<suite>/<profile>/tuning/tuned.yaml) where it
    # has them; off: every method at the profile's shared settings; a path: the tuned settings in that file
    variants: list[tuple[str, list[str]]] = field(default_factory=lambda: [("", [])])  # (label, more --set items):
    # the matrix once per variant (bench tune: one per trial)
    skip_diverged: bool = False  # a cell whose record (this code's) says it diverged is an outcome, not retried


@dataclass
class Plan:
    request: RunRequest
    methods: list[str]  # in the order asked, each once
    seeds: list[int]
    cells: list[Cell]  # variants × methods × seeds, resolved
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


TRACKING_SCHEMES = ("sqlite:///", "http://", "https://", "postgresql://", "mysql://", "databricks")


def check_tracking(request: RunRequest) -> None:
    """A URI MLflow can use as a store: a database or a tracking server (its file store is retired)."""
    uri = request.tracking_uri
    if uri is not None and not uri.strip():
        raise UsageError("--tracking-uri is empty; give a URI such as sqlite:///results/mlflow.db or "
                         "http://127.0.0.1:5000, or leave it out")
    if uri is not None and not uri.startswith(TRACKING_SCHEMES):
        raise UsageError(f"--tracking-uri {uri}: not a tracking store MLflow can use; give sqlite:///PATH, "
                         "http(s)://HOST:PORT or a database URI (postgresql://, mysql://)")


def writable_directory(path: Path, flag: str) -> None:
    """Fail before any work when `path` cannot hold output (a file in the way, no permission), leaving nothing
    behind: writability is tried with a temporary file in the nearest existing folder."""
    if not str(path).strip():
        raise UsageError(f"{flag} is empty; give a directory")
    existing = Path(os.path.realpath(path))  # the folders mkdir will meet: symlinks followed, '..' applied
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    shown = existing if Path(path).is_absolute() else os.path.relpath(existing)
    if not existing.is_dir():
        raise UsageError(f"{flag} {path}: {shown} is a file, not a directory")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise UsageError(f"{flag} {path}: {shown} is not writable ({err.strerror})") from None


def one_line(err: BaseException) -> str:
    return " ".join(str(err).split())


def suite_preflight(suite: str):
    """The suite's preflight module (tasks/<suite>/preflight.py: `check`, `tuple_floats`), or None."""
    name = SUITES.get(suite).__module__.rpartition(".")[0] + ".preflight"
    return importlib.import_module(name) if importlib.util.find_spec(name) is not None else None


def check_sources(preflight, cells: list[Cell]) -> None:
    """Every data source of the run read completely, once per distinct data and media setting: a user's files,
    layouts, folders and the media stage's precondition fail here, in one line, not when a cell starts."""
    if preflight is None:
        return
    checked = set()
    for cell in cells:
        key = (repr(cell.cfg.data), cell.cfg.media.weights)
        if key not in checked:
            checked.add(key)
            try:
                preflight.check(cell.cfg.data, cell.cfg.media.weights)
            except (ValueError, OSError) as err:
                raise UsageError(one_line(err)) from None


def bytes_text(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024:
            return f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} PiB"


def machine_memory() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_resources(request: RunRequest, preflight, cells: list[Cell], notes: list[str]) -> RunRequest:
    """Sizes that would run out of memory, run for years or evaluate on a handful of tuples are refused (one line);
    more workers than CPU cores are capped with a note. Returns the request as it will run."""
    memory = machine_memory()
    for cell in cells:
        cfg = cell.cfg
        data = cfg.data
        steps = cfg.train.steps
        if cfg.train.budget == "samples":
            steps = int(cfg.train.budget_amount // cfg.train.batch_size)
        seconds = (cfg.train.budget_amount if cfg.train.budget == "seconds" else steps * FASTEST_STEP_SECONDS)
        if seconds > LONG_RUN_SECONDS and not request.yes:
            what = (f"train.budget_amount={cfg.train.budget_amount:g} seconds" if cfg.train.budget == "seconds"
                    else f"{steps} training steps")
            raise UsageError(f"{what} per cell would take at least {seconds / 86400:,.0f} days (at "
                             f"{FASTEST_STEP_SECONDS * 1e3:g} ms a step, faster than any device here); lower the "
                             "budget, or confirm it with --yes")
        synthetic = getattr(data, "source", "synthetic") in ("synthetic", "sklearn_digits", "mnist")
        if preflight is not None and memory and request.executor == "local" and synthetic:
            n_test = getattr(data, "n_test", 0) + getattr(data, "n_triplets", 0)
            need = (data.n_train + n_test) * preflight.tuple_floats(data) * 4
            if need > MEMORY_SHARE * memory:
                raise UsageError(f"data.n_train={data.n_train} data.n_test={getattr(data, 'n_test', 0)}: the data "
                                 f"would take {bytes_text(need)} of memory, and this machine has "
                                 f"{bytes_text(memory)}; lower them")
        n_test = getattr(data, "n_test", None)
        evaluated = None if n_test is None else min(n_test, cfg.eval.n_samples)
        if evaluated is not None and synthetic and evaluated < MIN_EVAL_TUPLES:
            which = "data.n_test" if n_test <= cfg.eval.n_samples else "eval.n_samples"
            raise UsageError(f"{which}={evaluated}: the evaluation would use {evaluated} test tuples; its bootstrap "
                             f"intervals and Fréchet distances need at least {MIN_EVAL_TUPLES}")
    first = cells[0].cfg if cells else None
    if first is not None and getattr(first.data, "n_test", None) and first.eval.n_samples > first.data.n_test:
        notes.append(f"eval.n_samples={first.eval.n_samples} is more than the {first.data.n_test} test tuples "
                     "(data.n_test); every task evaluates on all of them")
    cores = os.cpu_count() or 1
    if request.executor == "local" and request.workers > cores:
        notes.append(f"--workers {request.workers} is more than this machine's {cores} CPU cores; using {cores}")
        request = replace(request, workers=cores)
    return request


def tuned_settings(request: RunRequest, methods: list[str], notes: list[str]) -> dict[str, list[str]]:
    """Method -> the --set items of its tuned settings (request.tuned), each said in a note; a setting the run sets
    itself (--set) is the run's, not the tuning's."""
    if request.tuned == "off":
        return {}
    default = request.tuned == "on"
    path = tuned_path(Path(request.out), request.suite, request.profile) if default else Path(request.tuned)
    if not default and not path.is_file():
        raise UsageError(f"--tuned {request.tuned}: no such file; give on, off or a tuned.yaml that bench tune wrote")
    found = read_tuned(path)
    if found is None:  # nothing tuned: every method at the profile's shared settings, as the report says
        return {}
    if found.data.get("suite") not in (None, request.suite) or found.data.get("profile") not in (None, request.profile):
        raise UsageError(f"--tuned {path}: it holds the tuning of {found.data.get('suite')} at profile "
                         f"{found.data.get('profile')}, not of {request.suite} at {request.profile}")
    own = {item.partition("=")[0].strip() for item in request.overrides}
    out, shared, kept = {}, [], []
    for method in methods:
        settings = found.settings(method)
        if settings is None:
            shared.append(method)
            continue
        kept.extend(f"{method}: {key} (--set)" for key in settings if key in own)
        out[method] = as_overrides({k: v for k, v in settings.items() if k not in own})
    if out:
        shown = "; ".join(f"{m} {' '.join(items) or '(all set by --set)'}" for m, items in out.items())
        notes.append(f"tuned settings from {path}: {shown} (--tuned off trains at the shared settings)")
    if shared:
        notes.append(f"not tuned (shared settings): {', '.join(shared)}")
    if kept:
        notes.append(f"--set wins over the tuned value of {', '.join(kept)}")
    return out


def resolved_cells(request: RunRequest, methods: list[str], seeds: list[int], tuned: dict[str, list[str]]
                   ) -> list[Cell]:
    """Every cell of the matrix, resolved (so config mistakes stop the run before any training)."""
    suite_module = SUITES.get(request.suite).__module__
    fingerprints: dict[tuple[str, bool], dict[str, Any]] = {}
    cells = []
    for label, extra in request.variants:
        for method in methods:
            for seed in seeds:
                overrides = [*tuned.get(method, []), *request.overrides, *extra]
                cfg = resolve(request.suite, method, seed, request.profile, overrides)
                key = (method, bool(cfg.media.weights))
                if key not in fingerprints:
                    fingerprints[key] = code_fingerprint(METHODS.get(method).__module__, suite_module, media=key[1])
                cells.append(Cell(cfg, request.out, fingerprints[key], label))
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
        tuned = tuned_settings(request, methods, notes)
        for _, extra in request.variants:
            validate_overrides([*request.overrides, *extra], request.suite, methods)
        cells = resolved_cells(request, methods, seeds, tuned)
    except ConfigError as err:
        raise UsageError(one_line(err)) from None
    preflight = suite_preflight(request.suite)
    request = check_resources(request, preflight, cells, notes)
    check_sources(preflight, cells)
    writable_directory(Path(request.out), "--out")
    return Plan(request, methods, seeds, cells, notes)
