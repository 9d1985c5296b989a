"""Tracking against a real MLflow server on 127.0.0.1: log a cell, read its metrics back over REST."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from bench.runner import RunRequest, run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def mlflow_server(tmp_path):
    port = free_port()
    env = dict(os.environ, MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false")
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path / 'server.db'}",
         "--default-artifact-root", (tmp_path / "artifacts").as_uri(), "--host", "127.0.0.1",
         "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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
                time.sleep(0.5)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def test_a_cell_logged_to_an_mlflow_server_reads_back_over_rest(mlflow_server, tmp_path):
    outcomes = run(RunRequest(suite="gaussian_mixture", methods=["muni"], seeds=[0], profile="smoke",
                              out=tmp_path / "results", tracking_uri=mlflow_server, show_progress=False,
                              overrides=["train.steps=20"]))
    record = json.loads(outcomes[0].record.read_text())
    assert record["tracking"]["status"] == "ok", record["tracking"]
    with urllib.request.urlopen(f"{mlflow_server}/api/2.0/mlflow/experiments/get-by-name?"
                                f"experiment_name=gaussian_mixture", timeout=10) as r:
        experiment_id = json.loads(r.read())["experiment"]["experiment_id"]
    runs = post(f"{mlflow_server}/api/2.0/mlflow/runs/search", {"experiment_ids": [experiment_id]})["runs"]
    assert len(runs) == 1 and runs[0]["info"]["run_id"] == record["tracking"]["run_id"]
    metrics = {m["key"]: m["value"] for m in runs[0]["data"]["metrics"]}
    assert metrics["one_to_one/alignment_mse"] == pytest.approx(record["metrics"]["one_to_one/alignment_mse"]["value"])
    assert "train/loss" in metrics and "train/prior_cfm" in metrics
    run_id = record["tracking"]["run_id"]
    artifacts = urllib.request.urlopen(f"{mlflow_server}/api/2.0/mlflow/artifacts/list?run_id={run_id}", timeout=10)
    names = {f["path"] for f in json.loads(artifacts.read())["files"]}
    assert {"config.yaml", "samples.png", outcomes[0].record.name} <= names
    params = {p["key"]: p["value"] for p in runs[0]["data"]["params"]}
    assert params["train.steps"] == "20" and params["method"] == "muni"
    assert runs[0]["info"]["status"] == "FINISHED"
