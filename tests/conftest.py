import json
import os
import platform
import sys
import time
from datetime import datetime, timezone

import pytest
import torch

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("MLFLOW_SERVER_ENABLE_JOB_EXECUTION", "false")


@pytest.fixture(autouse=True)
def _seed_and_cache(tmp_path_factory, monkeypatch):
    torch.manual_seed(0)
    monkeypatch.setenv("MUNI_BENCH_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


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
