"""Tracking against a real MLflow server on 127.0.0.1: log a cell, read its metrics back over REST."""
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from bench.run.runner import RunRequest, run
from tests.bench.conftest import free_port
from tests.bench.conftest import mlflow_server as serve_mlflow


@pytest.fixture
def mlflow_server(tmp_path):
    with serve_mlflow(tmp_path, "--default-artifact-root", (tmp_path / "artifacts").as_uri()) as url:
        yield url


def post(url: str, body: dict) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.slow  # real processes or a real MLflow server
def test_a_cell_logged_to_an_mlflow_server_reads_back_over_rest(mlflow_server, tmp_path):
    outcomes = run(RunRequest(suite="gaussian_mixture", methods=["muni"], seeds=[0], profile="smoke",
                              out=tmp_path / "results", tracking_uri=mlflow_server, show_progress=False,
                              overrides=["train.steps=20"])).outcomes
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


def tracked_runs(uri: str, experiment: str = "gaussian_mixture") -> list:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    return client.search_runs([found.experiment_id]) if found else []


@pytest.mark.slow  # real processes or a real MLflow server
def test_four_cells_on_two_workers_into_a_fresh_store_are_all_tracked(tmp_path):
    result = run(RunRequest(suite="gaussian_mixture", methods=["muni", "mvae"], seeds=[0, 1], profile="smoke",
                            out=tmp_path, show_progress=False, workers=2, overrides=["train.steps=10"]))
    assert [o.status for o in result.outcomes] == ["ok"] * 4
    assert all(o.tracking_error is None for o in result.outcomes)
    runs = tracked_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert len(runs) == 4 and {r.info.status for r in runs} == {"FINISHED"}
    assert all("one_to_one/alignment_mse" in r.data.metrics and "train/loss" in r.data.metrics for r in runs)
    ids = {json.loads(o.record.read_text())["tracking"]["run_id"] for o in result.outcomes}
    assert ids == {r.info.run_id for r in runs}


def bench_cli(out: Path, *extra: str, cache: Path | None = None) -> subprocess.Popen:
    env = dict(os.environ, **({"MUNI_BENCH_CACHE": str(cache)} if cache else {}))
    return subprocess.Popen([sys.executable, "-m", "bench", "run", "--methods", "muni", "--profile", "smoke",
                             "--set", "train.steps=5", "--set", "train.warmup_steps=0", "--out", str(out), "--quiet",
                             *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True, env=env)


@pytest.mark.slow  # real processes or a real MLflow server
def test_a_kill_during_store_setup_leaves_a_store_the_rerun_can_use(tmp_path, monkeypatch, capfd):
    """A new store is a copy of the cache's empty store, which MLflow's migrations build once (about a second):
    with a fresh cache, kill -9 inside that build; neither the output's store nor the cache's is left half-built."""
    for attempt in range(3):
        out, cache = tmp_path / f"attempt{attempt}", tmp_path / f"cache{attempt}"
        proc = bench_cli(out, cache=cache)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            if list(cache.glob("mlflow/.*.creating-*")) or list(out.glob(".mlflow.db.creating-*")):
                os.killpg(proc.pid, signal.SIGKILL)
                break
            time.sleep(0.005)
        proc.wait()
        if proc.returncode == -signal.SIGKILL:
            break
    else:
        pytest.fail("never caught the store setup in the act")
    assert not (out / "mlflow.db").exists()  # nothing half-built in place of the store
    assert not list(cache.glob("mlflow/*.db"))  # nor in place of the empty store
    from bench.cli import main

    monkeypatch.setenv("MUNI_BENCH_CACHE", str(cache))  # the rerun in this process: its start-up is paid already
    capfd.readouterr()
    code = main(["run", "--methods", "muni", "--profile", "smoke", "--set", "train.steps=5",
                 "--set", "train.warmup_steps=0", "--out", str(out), "--quiet"])
    stderr = capfd.readouterr().err
    assert code == 0, stderr
    assert "INFO" not in stderr  # MLflow's and alembic's log lines stay out of the console
    assert not list(out.glob(".mlflow.db.creating-*")) and not list(cache.glob("mlflow/.*.creating-*"))
    record = json.loads(next(out.rglob("*-seed0.json")).read_text())
    assert record["tracking"]["status"] == "ok"
    assert [r.info.run_id for r in tracked_runs(f"sqlite:///{out / 'mlflow.db'}")] == [record["tracking"]["run_id"]]


def test_a_new_store_is_a_copy_of_the_caches_empty_store(tmp_path):
    from bench.run.tracking import create_sqlite_store, empty_store

    create_sqlite_store(tmp_path / "a" / "mlflow.db")
    template = empty_store()
    built = template.stat().st_mtime_ns
    create_sqlite_store(tmp_path / "b" / "mlflow.db")
    assert empty_store().stat().st_mtime_ns == built  # built once
    assert (tmp_path / "b" / "mlflow.db").read_bytes() == template.read_bytes()
    assert tracked_runs(f"sqlite:///{tmp_path / 'b' / 'mlflow.db'}") == []  # a store MLflow reads


def test_an_unreachable_store_is_found_up_front_and_the_run_goes_on_untracked(tmp_path, capsys):
    start = time.time()
    result = run(RunRequest(suite="gaussian_mixture", methods=["muni"], seeds=[0], profile="smoke", out=tmp_path,
                            show_progress=False, overrides=["train.steps=5", "train.warmup_steps=0"],
                            tracking_uri=f"http://127.0.0.1:{free_port()}"))
    assert time.time() - start < 60  # MLflow's own retries took about 4.5 minutes per cell
    assert result.outcomes[0].status == "ok" and "cannot be used" in result.tracking.error
    record = json.loads(result.outcomes[0].record.read_text())
    assert record["tracking"]["status"] == "disabled" and "127.0.0.1" in record["tracking"]["error"]
    assert "the run goes on untracked" in capsys.readouterr().out


def test_require_tracking_stops_before_any_training(tmp_path, capsys):
    from bench.cli import main

    (tmp_path / "afile").write_text("a file where the store's folder should be")
    code = main(["run", "--methods", "muni", "--profile", "smoke", "--out", str(tmp_path / "r"),
                 "--tracking-uri", f"sqlite:///{tmp_path / 'afile' / 'mlflow.db'}", "--require-tracking"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "nothing was trained (--require-tracking)" in err
    assert not list(tmp_path.rglob("*.json"))


def test_a_locked_database_is_retried_briefly():
    from bench.run.tracking import with_retries

    calls = []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise RuntimeError("(sqlite3.OperationalError) database is locked")
        return "done"

    assert with_retries(flaky) == "done" and len(calls) == 3
    with pytest.raises(ValueError):
        with_retries(lambda: (_ for _ in ()).throw(ValueError("not transient")))


def test_a_run_left_running_by_other_code_is_closed_and_a_killed_run_is_continued(tmp_path):
    from bench.run.tracking import Tracker, prepare_tracking

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    setup = prepare_tracking(uri, "gaussian_mixture", tmp_path / "mlruns", tmp_path)
    old, new = tmp_path / "cell-seed0-aaaaaaaaaaaa.mlflow_run", tmp_path / "cell-seed0-bbbbbbbbbbbb.mlflow_run"
    ghost = Tracker(setup, "gaussian_mixture")
    ghost.start("cell", {"a": 1}, {}, keep=old)  # killed: never ended
    first = Tracker(setup, "gaussian_mixture")
    first.start("cell", {"a": 1}, {}, keep=new)
    first.end("KILLED")  # Ctrl-C: the run is kept for the rerun
    rerun = Tracker(setup, "gaussian_mixture")
    rerun.start("cell", {"a": 1}, {}, keep=new)
    assert rerun.run_id == first.run_id and not old.exists()
    rerun.end("FINISHED")
    assert not new.exists()
    statuses = {r.info.run_id: r.info.status for r in tracked_runs(uri)}
    assert statuses == {ghost.run_id: "KILLED", first.run_id: "FINISHED"}
