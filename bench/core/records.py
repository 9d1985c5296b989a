"""Result records: one JSON file per cell, written atomically; reports read only these files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 3  # 2: code fingerprint, relative checkpoint and tracking paths, interrupted status; 3: metrics with
# their ideal, bootstrap standard error, interval and replicates, and the suite's reference rows
READABLE_SCHEMAS = (1, 2, 3)
REQUIRED = {"suite": str, "method": str, "seed": int, "profile": str, "config_hash": str, "status": str,
            "metrics": dict, "config": dict, "git": dict, "device": dict, "wall_time": dict}


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


def write_record(path: Path, record: dict[str, Any]) -> None:
    write_atomic(path, lambda f: f.write(json.dumps(record, indent=2, sort_keys=False, default=str).encode()))


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


def read_record(path: Path, warn: Callable[[str], None] | None = None) -> dict[str, Any] | None:
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
    return record


def default_warn(message: str) -> None:
    print(f"bench: warning: {message}", file=sys.stderr)


def read_records(root: Path, suite: str | None = None,
                 warn: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
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
                record["_path"] = str(path)
                records.append(record)
    return records


def record_state(path: Path, config_hash: str, made_by_this_code: Callable[[dict[str, Any]], bool]
                 ) -> tuple[str, dict[str, Any] | None]:
    """("missing" | "done" | "stale" | "failed" | "interrupted" | "unreadable", the record): a cell is done when
    its record exists, succeeded, and was made with the same resolved config by the same code."""
    if not path.exists():
        return "missing", None
    record = read_record(path, warn=lambda _: None)
    if record is None:
        return "unreadable", None
    if record.get("status") != "ok" or record.get("config_hash") != config_hash:
        return ("interrupted" if record.get("status") == "interrupted" else "failed"), record
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
