"""The runner as users drive it, in real processes: Ctrl-C on a parallel run, and two runs into one directory."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.bench.run.test_tracking import tracked_runs

pytestmark = pytest.mark.slow  # real processes

SMOKE = ["--profile", "smoke", "--quiet"]


def start(out: Path, *argv: str) -> subprocess.Popen:
    """A `bench run` as from an interactive terminal: its own process group, and Ctrl-C not ignored (a shell
    ignores SIGINT for background jobs, and a test run may have inherited that)."""
    return subprocess.Popen([sys.executable, "-m", "bench", "run", *SMOKE, "--out", str(out), *argv],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
                            env=dict(os.environ, OMP_NUM_THREADS="1"))  # two runs at once: no oversubscription


def records(out: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "gaussian_mixture").rglob("*.json"))]


PARALLEL = ["--methods", "muni,mvae,mopoe", "--workers", "2", "--set", "train.steps=40",
            "--set", "train.checkpoint_every=10"]


def start_training(out: Path) -> subprocess.Popen:
    """Three cells on two workers, returned once both workers are training (their first checkpoints exist)."""
    proc = start(out, *PARALLEL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((out / "checkpoints").rglob("*seed0-????????????.pt")):
        time.sleep(0.1)
    assert proc.poll() is None, proc.communicate()
    return proc


def test_ctrl_c_on_a_parallel_run_records_no_failures_and_the_rerun_resumes(tmp_path, capsys):
    from bench.cli import main

    proc = start_training(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole group on Ctrl-C
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "interrupted:" in stderr and "rerun the same command to resume" in stderr
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr
    assert not records(tmp_path)  # no cell finished: nothing recorded, in particular no 'failed' record
    # the rerun in this process (its start-up is paid already), on one worker: no worker to start either
    assert main(["run", *SMOKE, "--out", str(tmp_path), *PARALLEL[:2], "--workers", "1", *PARALLEL[4:]]) == 0, \
        capsys.readouterr().err
    done = records(tmp_path)
    assert sorted(r["method"] for r in done) == ["mopoe", "muni", "mvae"]
    assert {r["status"] for r in done} == {"ok"}
    assert sum(r["train"]["resumed_from"] > 0 for r in done) >= 1  # the cells stopped mid-way resumed
    runs = tracked_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")
    assert [r.info.status for r in runs] == ["FINISHED"] * 3  # a stopped cell's run is continued, not doubled


def test_two_runs_into_one_directory_train_each_cell_once(tmp_path):
    argv = ["--methods", "muni,mvae,mopoe", "--workers", "1", "--set", "train.steps=30"]
    first, second = start(tmp_path, *argv), start(tmp_path, *argv)
    outputs = [p.communicate(timeout=600) for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outputs
    ran = [int(re.search(r"bench: (\d+) cells ran", out).group(1)) for out, _ in outputs]
    assert sum(ran) == 3, outputs  # every cell trained by exactly one of the two runs
    assert len(records(tmp_path)) == 3 and {r["status"] for r in records(tmp_path)} == {"ok"}
    assert len(tracked_runs(f"sqlite:///{tmp_path / 'mlflow.db'}")) == 3
