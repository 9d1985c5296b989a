import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.run.runner import RunRequest, run
from tests.conftest import once_per_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def mlflow_server(folder: Path, *artifacts: str) -> Iterator[str]:
    """A real MLflow server on 127.0.0.1 with its store in `folder` (`artifacts`: its artifact flags), its URL
    once /health answers; the whole process group is stopped afterwards (the server forks workers)."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder / 'server.db'}",
         *artifacts, "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        env=dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"), stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    pytest.fail("mlflow server did not start within 60 s")
                time.sleep(0.3)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def smoke_results(tmp_path_factory):
    """A small finished run, made once per test run: muni with two seeds and shala with one, at smoke size.
    Tests read it or copy it; none writes into it."""
    def make(out: Path) -> None:
        common = dict(suite="gaussian_mixture", profile="smoke", out=out, show_progress=False,
                      overrides=["train.steps=20"], command="pytest smoke run")
        outcomes = run(RunRequest(methods=["muni"], seeds=[0, 1], **common)).outcomes
        outcomes += run(RunRequest(methods=["shala"], seeds=[0], **common)).outcomes
        assert [o.status for o in outcomes] == ["ok", "ok", "ok"]

    return once_per_run(tmp_path_factory, "smoke_results", make)
