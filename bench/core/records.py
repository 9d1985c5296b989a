"""Result records: one typed record per cell (`Record`), one JSON file each, written atomically and read back
here for every schema committed; reports read only these files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 4  # 2: code fingerprint, relative checkpoint and tracking paths, interrupted status; 3: metrics with
# their ideal, bootstrap standard error, interval and replicates, and the suite's reference rows; 4: every field
# of Record written, empty where a cell did not get that far (earlier schemas are read with those defaults)
READABLE_SCHEMAS = (1, 2, 3, 4)
REQUIRED = {"suite": str, "method": str, "seed": int, "profile": str, "config_hash": str, "status": str,
            "metrics": dict, "config": dict, "git": dict, "device": dict, "wall_time": dict}


@dataclass
class Record:
    """One cell's result: what ran (config, code, machine), what it consumed and what it scored."""

    suite: str
    method: str
    seed: int
    profile: str
    config_hash: str
    status: str  # ok | failed | interrupted
    config: dict[str, Any]  # the resolved config (bench/core/config.py)
    git: dict[str, Any]  # the commit of the code that ran, and whether the checkout was dirty
    device: dict[str, Any]
    wall_time: dict[str, Any]  # seconds: data, train, eval (and per task group), media, total
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> MetricResult.as_dict()
    schema: int = SCHEMA
    overrides: list[str] = field(default_factory=list)  # the --set settings, as typed
    command: str = ""  # the command that made it, as a user would retype it
    code: dict[str, Any] = field(default_factory=dict)  # its code fingerprint (bench/core/fingerprint.py)
    versions: dict[str, str] = field(default_factory=dict)
    capabilities: list[str] = field(default_factory=list)  # the task directions the method supports
    started_at: str = ""
    reason: str | None = None  # why it failed or was interrupted
    data: dict[str, Any] = field(default_factory=dict)  # the suite's description of its data
    train: dict[str, Any] = field(default_factory=dict)  # steps, resume, final terms, curves, quick checks
    rungs: list[dict[str, Any]] = field(default_factory=list)  # test evaluations before the end (eval.rung)
    parameters: dict[str, int] = field(default_factory=dict)
    budget: dict[str, Any] = field(default_factory=dict)  # what training consumed (bench/run/budget.py)
    references: dict[str, str] = field(default_factory=dict)  # reference row -> what it is
    samples: str | None = None  # the samples file beside the record
    checkpoint: str | None = None  # the final weights, relative to the output directory
    notes: list[str] = field(default_factory=list)
    finished_at: str | None = None
    tracking: dict[str, Any] = field(default_factory=dict)
    traceback: str | None = None
    reached_step: int | None = None  # where an interrupted cell stopped
    path: Path | None = field(default=None, compare=False, repr=False)  # the file it was read from; not written
    changed: list[str] = field(default_factory=list, compare=False, repr=False)  # set by reports; not written

    @classmethod
    def from_json(cls, data: dict[str, Any], path: Path | None = None) -> Record:
        """A record of any readable schema; fields an earlier schema did not have take their defaults."""
        known = {f.name for f in fields(cls)} - NOT_WRITTEN
        return cls(**{k: v for k, v in data.items() if k in known}, path=path)

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in NOT_WRITTEN}

    # base/results.py's Row reads its records by key (r["seed"], r["metrics"], r.get("_changed")); it is part of
    # every record's code fingerprint, so it keeps doing so and a record answers by key as well as by field
    def __getitem__(self, key: str) -> Any:
        return getattr(self, KEY_FIELDS.get(key, key))

    def get(self, key: str, default: Any = None) -> Any:
        value = getattr(self, KEY_FIELDS.get(key, key), default)
        return default if value is None else value


NOT_WRITTEN = {"path", "changed"}  # Record fields that live in memory only
KEY_FIELDS = {"_changed": "changed", "_path": "path"}  # the keys reports once added to a record's dict


def cell_stem(out: Path, suite: str, profile: str, method: str, config_hash: str, seed: int) -> Path:
    """results/<suite>/<profile>/<method>/<config hash>-seed<seed> (add .json / .samples.npz)."""
    return out / suite / profile / method / f"{config_hash}-seed{seed}"


def write_atomic(path: Path, write) -> None:
    """Write through a temporary file in the same directory and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_record(path: Path, record: Record | dict[str, Any]) -> None:
    """A cell's record (or another result file, such as a perf measurement) as JSON."""
    data = record.to_json() if isinstance(record, Record) else record
    write_atomic(path, lambda f: f.write(json.dumps(data, indent=2, sort_keys=False, default=str).encode()))


def write_samples(path: Path, samples: dict[str, np.ndarray]) -> None:
    write_atomic(path, lambda f: np.savez_compressed(f, **{k.replace("/", "__"): v for k, v in samples.items()}))


def read_samples(path: Path, warn: Callable[[str], None] | None = None) -> dict[str, np.ndarray] | None:
    """A record's jointly generated samples, or None (with a warning naming the file) when they cannot be read."""
    try:
        with np.load(path) as f:
            return {k.replace("__", "/"): f[k] for k in f.files}
    except Exception as err:  # truncated or damaged archives raise zipfile, OS and value errors alike
        (warn or default_warn)(f"skipping the samples {path}: {type(err).__name__}: {err}")
        return None


def problem(record: Any) -> str | None:
    """What makes a parsed record unusable by reports, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    if record.get("schema") not in READABLE_SCHEMAS:
        return f"schema {record.get('schema')!r} is not one of {READABLE_SCHEMAS}"
    for key, kind in REQUIRED.items():
        if not isinstance(record.get(key), kind):
            return f"field '{key}' is missing or not a {kind.__name__}"
    return None


def read_record(path: Path, warn: Callable[[str], None] | None = None) -> Record | None:
    """A record, or None (with a warning naming the file) when it cannot be read or lacks required fields.
    JSON files under results/ that are not cell records (perf measurements) are skipped silently."""
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        (warn or default_warn)(f"skipping unreadable record {path}: {err}")
        return None
    if isinstance(record, dict) and record.get("kind") == "perf":
        return None
    if (why := problem(record)) is not None:
        (warn or default_warn)(f"skipping record {path}: {why}")
        return None
    return Record.from_json(record, path)


def default_warn(message: str) -> None:
    print(f"bench: warning: {message}", file=sys.stderr)


def read_records(root: Path, suite: str | None = None,
                 warn: Callable[[str], None] | None = None) -> list[Record]:
    """Every readable record under root/suite; unreadable files and folders are skipped with a warning."""
    base = root / suite if suite else root
    warn = warn or default_warn

    def folder_error(err: OSError) -> None:
        warn(f"skipping unreadable folder {err.filename}: {err.strerror}")

    records = []
    if not base.is_dir():
        return records
    for folder, dirs, files in os.walk(base, onerror=folder_error):
        dirs.sort()
        for name in sorted(files):
            if not name.endswith(".json") or name.startswith("."):
                continue
            path = Path(folder) / name
            record = read_record(path, warn)
            if record is not None:
                records.append(record)
    return records


def record_state(path: Path, config_hash: str, made_by_this_code: Callable[[Record], bool]
                 ) -> tuple[str, Record | None]:
    """("missing" | "done" | "stale" | "failed" | "interrupted" | "unreadable", the record): a cell is done when
    its record exists, succeeded, and was made with the same resolved config by the same code."""
    if not path.exists():
        return "missing", None
    record = read_record(path, warn=lambda _: None)
    if record is None:
        return "unreadable", None
    if record.status != "ok" or record.config_hash != config_hash:
        return ("interrupted" if record.status == "interrupted" else "failed"), record
    if not made_by_this_code(record):
        return "stale", record
    return "done", record


def portable_traceback(text: str, out: Path | None = None) -> str:
    """Text (a traceback, a note, a reason) without the machine's paths: files under the output directory relative
    to it, project files relative to the project, others to Python's."""
    prefixes = [(str(Path(__file__).resolve().parents[2]) + os.sep, ""),
                (sys.prefix + os.sep, "<python>/"), (sys.base_prefix + os.sep, "<python>/")]
    if out is not None:  # first: the output directory may lie inside the project
        prefixes = [(str(Path(out).resolve()) + os.sep, ""), (str(Path(out).absolute()) + os.sep, ""), *prefixes]
    for prefix, name in prefixes:
        text = text.replace(prefix, name)
    return text


def git_state(where: Path | None = None) -> dict[str, Any]:
    """The commit of the code that ran; $MUNI_BENCH_COMMIT names it for copies without .git (GPU machines)."""
    if os.environ.get("MUNI_BENCH_COMMIT"):
        return {"commit": os.environ["MUNI_BENCH_COMMIT"], "dirty": False, "from": "MUNI_BENCH_COMMIT"}
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        # records and reports a run rewrites are outputs, not code: they do not make the checkout dirty
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ":(top)",
                                ":(top,exclude)results", ":(top,exclude)reports"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"commit": commit, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def command_line(args: list[str] | None = None) -> str:
    """The command that made a record, as a user would retype it."""
    args = sys.argv[1:] if args is None else args
    return " ".join(["python -m bench", *(a if a and " " not in a else repr(a) for a in args)])
