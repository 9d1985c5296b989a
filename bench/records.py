"""Result records: one JSON file per cell, written atomically; reports read only these files."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np

SCHEMA = 1


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


def read_samples(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as f:
        return {k.replace("__", "/"): f[k] for k in f.files}


def read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        warnings.warn(f"skipping unreadable record {path}: {err}", stacklevel=2)
        return None
    return record if isinstance(record, dict) and record.get("schema") == SCHEMA else None


def read_records(root: Path, suite: str | None = None) -> list[dict[str, Any]]:
    base = root / suite if suite else root
    records = []
    for path in sorted(base.rglob("*.json")):
        record = read_record(path)
        if record is not None:
            record["_path"] = str(path)
            records.append(record)
    return records


def finished(path: Path, config_hash: str) -> bool:
    """A cell is done when its record exists, succeeded, and was made with the same resolved config."""
    if not path.exists():
        return False
    record = read_record(path)
    return bool(record) and record.get("status") == "ok" and record.get("config_hash") == config_hash


def git_state(where: Path | None = None) -> dict[str, Any]:
    """The commit of the code that ran; $MUNI_BENCH_COMMIT names it for copies without .git (GPU machines)."""
    if os.environ.get("MUNI_BENCH_COMMIT"):
        return {"commit": os.environ["MUNI_BENCH_COMMIT"], "dirty": False, "from": "MUNI_BENCH_COMMIT"}
    where = where or Path(__file__).resolve().parent
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True,
                                timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return {"commit": commit, "dirty": bool(dirty)}
    except (OSError, subprocess.SubprocessError):
        return {"commit": "unknown", "dirty": None}


def command_line(args: list[str] | None = None) -> str:
    """The command that made a record, as a user would retype it."""
    args = sys.argv[1:] if args is None else args
    return " ".join(["python -m bench", *(a if a and " " not in a else repr(a) for a in args)])
