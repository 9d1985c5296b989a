"""The Ray executor on a real Ray cluster on 127.0.0.1: a head and a second node, one CPU each, both real Ray node
processes (ray.cluster_utils starts them as `ray start` would, and stops them by their process ids at the end).
A worker killed mid-cell costs no cell, and the matrix, run across both nodes, writes the local executor's
records of an uninterrupted run (here for the local executor's pool too);
Ctrl-C on the driver stops the cells and keeps the finished records; a sqlite store is refused on more than one
node."""
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bench.cli import main
from tests.bench.conftest import free_port, mlflow_server

# a real two-node cluster, one per test run (the module's fixture): its tests stay on one pytest-xdist worker
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]

MATRIX = ["run", "--suite", "gaussian_mixture", "--profile", "smoke", "--quiet", "--methods", "muni,mopoe",
          "--seeds", "0,1"]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def node_processes(nodes) -> set[int]:
    """The processes of every node (GCS, raylets, ...) and the workers they started."""
    pids = {info.process.pid for node in [nodes.head_node, *nodes.worker_nodes]
            for infos in node.all_processes.values() for info in infos}
    return pids.union(*(descendants(pid) for pid in pids))


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    from ray._private import ray_constants
    from ray.cluster_utils import Cluster

    node = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "include_dashboard": False}
    nodes = Cluster(initialize_head=True, head_node_args=node)
    # Ray dials a loopback address as this machine's network address, where nodes bound to 127.0.0.1 do not
    # answer; as a single machine, it keeps 127.0.0.1 (this affects only how this process names itself)
    patch = pytest.MonkeyPatch()
    patch.setattr(ray_constants, "ENABLE_RAY_CLUSTER", False)
    try:
        nodes.add_node(**node)
        nodes.wait_for_nodes()
        yield nodes
    finally:
        patch.undo()
        started = node_processes(nodes)
        nodes.shutdown()
        deadline = time.time() + 20
        while any(alive(p) for p in started) and time.time() < deadline:
            time.sleep(0.2)
        leaked = [p for p in started if alive(p)]
        for pid in leaked:
            os.kill(pid, signal.SIGKILL)
        assert not leaked, f"Ray processes outlived the cluster: {leaked}"


@pytest.fixture(scope="module")
def tracking_server(tmp_path_factory):
    """A real MLflow server serving its own artifacts: what a cluster of several nodes tracks to."""
    folder = tmp_path_factory.mktemp("mlflow")
    with mlflow_server(folder, "--artifacts-destination", (folder / "artifacts").as_uri()) as url:
        yield url


def records(out: Path) -> dict[str, dict]:
    return {p.relative_to(out).as_posix(): json.loads(p.read_text())
            for p in sorted((out / "gaussian_mixture").rglob("*.json"))}


def artifacts(server: str, run_id: str) -> set[str]:
    with urllib.request.urlopen(f"{server}/api/2.0/mlflow/artifacts/list?run_id={run_id}", timeout=10) as r:
        return {f["path"] for f in json.loads(r.read())["files"]}


KILL_MATRIX = ["run", "--suite", "gaussian_mixture", "--profile", "smoke", "--methods", "muni,mopoe", "--set",
               "train.steps=60", "--set", "train.checkpoint_every=10"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[str, dict]:
    """The killed runs' matrix on the local executor, nothing killed: one single-threaded cell per core, as a
    Ray node of one CPU runs it."""
    out = tmp_path_factory.mktemp("uninterrupted")
    assert main([*KILL_MATRIX, "--quiet", "--out", str(out)]) == 0
    return records(out)


def pool_worker(out: Path) -> tuple[int, str] | None:
    """A worker of this process's local pool, once a cell has checkpointed: a process forked by multiprocessing's
    forkserver (the forkserver is this process's child, its workers are grandchildren with its command line)."""
    if not list((out / "checkpoints").rglob("*seed0-????????????.pt")):
        return None
    children = {int(p) for p in os.popen(f"pgrep -P {os.getpid()}").read().split()}
    for pid in sorted(descendants(os.getpid()) - children):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"forkserver" in command:
            return pid, "a cell"
    return None


def ray_worker(out: Path) -> tuple[int, str] | None:
    """The Ray worker training the first cell that checkpointed (its process title names the cell)."""
    from bench.run.executor_ray import scratch_dir, scratch_key

    for checkpoint in scratch_dir(scratch_key(out)).glob("checkpoints/**/*seed0-????????????.pt"):
        method = checkpoint.parent.name
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                title = cmdline.read_bytes().split(b"\0")[0].decode()
            except OSError:
                continue
            if title.startswith(f"ray::bench-cell {method} s0"):
                return int(cmdline.parent.name), method
    return None


@pytest.mark.parametrize("executor", ["local", "ray"])
def test_a_worker_killed_mid_cell_costs_no_cell(executor, request, tmp_path, capsys):
    """SIGKILL, as the out-of-memory killer would, a worker mid-cell: the run finishes every cell, the killed one
    resumes from its checkpoint, and the store keeps one finished run per cell (no ghost left RUNNING). Either
    executor's records, the resumed cell's included, equal the local executor's records of the same matrix run
    without a kill: on Ray, one cell per node of a two-node cluster."""
    from tests.bench.run.test_tracking import tracked_runs

    out = tmp_path / "out"
    if executor == "ray":
        server = request.getfixturevalue("tracking_server")
        where = ["--executor", "ray", "--ray-address", request.getfixturevalue("cluster").address,
                 "--tracking-uri", server]
        uri, find = server, lambda: ray_worker(out)
    else:
        where, uri, find = ["--workers", "2"], f"sqlite:///{out / 'mlflow.db'}", lambda: pool_worker(out)
    killed: list[str] = []

    def kill_one_worker_mid_cell() -> None:
        deadline = time.time() + 120
        while time.time() < deadline and not killed:
            found = find()
            if found:
                os.kill(found[0], signal.SIGKILL)
                killed.append(found[1])
                return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_one_worker_mid_cell, daemon=True)
    killer.start()
    code = main([*KILL_MATRIX, "--out", str(out), *where])
    killer.join()
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert killed, "no worker was found mid-cell"
    died = (f"the worker training {killed[0]} s0 died; Ray starts the cell again" if executor == "ray"
            else "a worker process died")
    assert died in printed.out
    done = records(out)
    assert sorted(r["method"] for r in done.values()) == ["mopoe", "muni"]
    reference = request.getfixturevalue("uninterrupted")
    assert done.keys() == reference.keys()  # the same cells: config hashes and seeds
    for name, record in done.items():
        assert record["status"] == "ok" and record["train"]["steps"] == 60
        assert (out / name).with_name(record["samples"]).is_file() and (out / record["checkpoint"]).is_file()
        assert record["device"] == reference[name]["device"] and record["device"]["threads"] == 1
        assert record["metrics"] == reference[name]["metrics"]  # equal seeds, one thread each: the same numbers
        assert record["checkpoint"] == reference[name]["checkpoint"]
        written = json.dumps({k: v for k, v in record.items() if k != "command"})  # the command names --out
        assert str(tmp_path) not in written and str(Path.home()) not in written
        assert record["tracking"]["status"] == "ok", record["tracking"]
        if executor == "ray":
            assert Path(name).name in artifacts(uri, record["tracking"]["run_id"])  # via the server
    assert any(r["train"]["resumed_from"] > 0 for r in done.values())  # the killed cell resumed
    hashes = {record["config_hash"] for record in done.values()}
    runs = [r for r in tracked_runs(uri) if r.data.tags.get("config_hash") in hashes]  # this test's cells
    assert [r.info.status for r in runs] == ["FINISHED"] * 2  # the killed attempt's run continued: no ghost
    assert {r.info.run_id for r in runs} == {record["tracking"]["run_id"] for record in done.values()}
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.json.*"))
    assert not list(out.rglob("*.mlflow_run"))


def cell_workers() -> list[int]:
    """Processes on this machine that are training a cell for Ray (their title names the cell)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if cmdline.read_bytes().startswith(b"ray::bench-cell"):
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def test_ctrl_c_on_the_driver_stops_every_cell_and_keeps_the_finished_records(cluster, tracking_server, tmp_path):
    out = tmp_path / "out"
    driver = subprocess.Popen(
        [sys.executable, "-m", "bench", *MATRIX, "--set", "train.steps=80", "--out", str(out), "--executor", "ray",
         "--ray-address", cluster.address, "--tracking-uri", tracking_server],
        cwd=Path(__file__).resolve().parents[3], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env=dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"))  # the fixture's 127.0.0.1 patch, by its variable
    deadline = time.time() + 180
    while time.time() < deadline and driver.poll() is None and not list(out.rglob("*-seed*.json")):
        time.sleep(0.05)
    assert driver.poll() is None, driver.communicate()
    os.killpg(driver.pid, signal.SIGINT)  # what the terminal sends on Ctrl-C: the driver only, not Ray's workers
    _, err = driver.communicate(timeout=120)
    assert driver.returncode == 130, err
    assert "bench: interrupted:" in err and "Traceback" not in err
    done = records(out)
    assert 1 <= len(done) < 4 and all(r["status"] == "ok" for r in done.values())  # finished ones kept, whole
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.json.*"))
    deadline = time.time() + 30
    while cell_workers() and time.time() < deadline:  # cancelled or stopped at their next step
        time.sleep(0.2)
    assert not cell_workers()


def test_tuning_runs_its_trials_on_the_cluster_and_selects_what_a_local_tuning_selects(cluster, tracking_server,
                                                                                       tmp_path):
    from bench.core.tuned import read_tuned, tuned_path

    tuning = ["tune", "--suite", "gaussian_mixture", "--profile", "smoke", "--methods", "muni", "--trials", "2",
              "--quiet"]
    on_ray, here = tmp_path / "ray", tmp_path / "local"
    # its own driver process, as a user's command: no Ray session of an earlier test in this process
    driver = subprocess.run(
        [sys.executable, "-m", "bench", *tuning, "--executor", "ray", "--ray-address", cluster.address,
         "--tracking-uri", tracking_server, "--out", str(on_ray)], cwd=Path(__file__).resolve().parents[3],
        capture_output=True, text=True, timeout=900, env=dict(os.environ, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0"))
    assert driver.returncode == 0, driver.stderr
    assert main([*tuning, "--workers", "2", "--out", str(here)]) == 0  # single-threaded cells, as on a node
    found = [read_tuned(tuned_path(out, "gaussian_mixture", "smoke")).methods() for out in (on_ray, here)]
    assert found[0]["muni"]["complete"] and found[0] == found[1]


def test_a_sqlite_store_is_refused_on_a_cluster_of_several_nodes(cluster, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    code = main([*MATRIX, "--out", str(tmp_path / "out"), "--executor", "ray", "--ray-address", cluster.address])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert "tracking store sqlite:///mlflow.db" in err and "pass a tracking server's URI" in err
    assert not (tmp_path / "out").exists()  # refused before any cell, and before the store was created


def test_without_an_address_a_ray_instance_runs_here_and_stops_with_the_run(tmp_path, capsys):
    pytest.importorskip("ray")
    before = descendants(os.getpid())
    assert main(["run", "--suite", "gaussian_mixture", "--profile", "smoke", "--quiet", "--methods", "muni",
                 "--out", str(tmp_path), "--executor", "ray"]) == 0
    assert "a Ray cluster of 1 node" in capsys.readouterr().out
    (record,) = records(tmp_path).values()
    assert record["status"] == "ok" and record["tracking"]["uri"].startswith("sqlite:///mlflow.db")  # one node
    deadline = time.time() + 20
    while [p for p in descendants(os.getpid()) - before if alive(p)] and time.time() < deadline:
        time.sleep(0.2)
    assert not [p for p in descendants(os.getpid()) - before if alive(p)]


def test_an_address_where_no_cluster_answers_fails_in_seconds(cluster, tmp_path, capsys):
    nowhere = f"127.0.0.1:{free_port()}"
    started = time.time()
    assert main([*MATRIX, "--out", str(tmp_path), "--executor", "ray", "--ray-address", nowhere]) == 2
    assert f"--ray-address {nowhere}: no Ray cluster answers" in capsys.readouterr().err
    assert time.time() - started < 30
