import json
import os
import platform
import shutil
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import torch
from filelock import FileLock

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")
if os.environ.get("PYTEST_XDIST_WORKER"):
    # one core per pytest-xdist worker, for its torch and for the processes its tests start: threads beyond the
    # cores spin against each other
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)


def shared_temp(tmp_path_factory) -> Path:
    """The temporary folder of this test run, shared by its pytest-xdist workers (each worker's own otherwise)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(autouse=True)
def _seed_and_cache(tmp_path_factory, monkeypatch):
    torch.manual_seed(0)
    # one cache per test run: the workers share generated data and trained verifiers (written atomically)
    monkeypatch.setenv("MUNI_BENCH_CACHE", str(shared_temp(tmp_path_factory) / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


def once_per_run(tmp_path_factory, name: str, make) -> Path:
    """A folder made by `make(folder)` once per test run, whichever worker asks first (the others wait for it)."""
    root = shared_temp(tmp_path_factory)
    folder, done = root / name, root / f"{name}.done"
    with FileLock(str(root / f"{name}.lock")):
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # left half-made by a worker whose `make` failed
            folder.mkdir()
            make(folder)
            done.touch()
    return folder


# MUNI_BENCH_TEST_RECORD=results/tests.json: a full run writes its counts and time there, which README's generated
# test-run block quotes (python -m bench report --readme README.md)
STARTED = {}


def pytest_sessionstart(session):
    STARTED["at"] = time.perf_counter()


def pytest_terminal_summary(terminalreporter, exitstatus):
    path = os.environ.get("MUNI_BENCH_TEST_RECORD")
    if not path:
        return
    stats = terminalreporter.stats
    counts = {k: len([r for r in stats.get(k, []) if getattr(r, "when", "call") in ("call", "setup")])
              for k in ("passed", "failed", "error", "skipped")}
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.machine()) if os.path.exists("/proc/cpuinfo") else platform.machine()
    record = {"kind": "test-run", "counts": counts, "exit_status": int(exitstatus),
              "seconds": time.perf_counter() - STARTED.get("at", time.perf_counter()),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{cpu}, {os.cpu_count()} cores", "command": "pytest " + " ".join(sys.argv[1:])}
    with open(path, "w") as f:
        json.dump(record, f, indent=1)
