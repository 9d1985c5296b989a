import json

import pytest
import torch

from bench import train as train_module
from bench.records import read_record, read_samples
from bench.runner import RunRequest, run
from methods.muni import Muni


def request(out, **kw):
    base = dict(suite="gaussian_mixture", methods=["muni"], seeds=[0], profile="smoke", out=out,
                show_progress=False, overrides=["train.steps=20"])
    base.update(kw)
    return RunRequest(**base)


def test_records_have_the_promised_fields(smoke_results):
    paths = sorted((smoke_results / "gaussian_mixture" / "smoke").rglob("*.json"))
    assert len(paths) == 3
    record = json.loads(paths[0].read_text())
    for key in ("suite", "method", "seed", "profile", "config_hash", "config", "git", "device", "wall_time",
                "metrics", "status", "command", "tracking", "train"):
        assert key in record
    assert set(record["wall_time"]) >= {"data", "train", "eval", "total"}
    metric = record["metrics"]["one_to_one/alignment_mse"]
    assert metric["higher_is_better"] is False and metric["value"] > 0 and len(metric["per_direction"]) == 6
    assert record["tracking"]["status"] == "ok" and record["tracking"]["run_id"]
    samples = read_samples(paths[0].with_name(record["samples"]))
    assert samples["joint/x1"].shape[1] == 60
    ckpt = torch.load(record["checkpoint"], weights_only=True)
    assert "ema" in ckpt and ckpt["config"]["method"] == record["method"]


def test_unsupported_directions_are_recorded_as_such(smoke_results):
    path = next((smoke_results / "gaussian_mixture" / "smoke" / "shala").glob("*.json"))
    metric = read_record(path)["metrics"]["many_to_one/alignment_mse"]
    assert metric["status"] == "unsupported" and metric["value"] is None


def test_rerun_skips_finished_cells_and_force_reruns(tmp_path):
    first = run(request(tmp_path))
    assert [o.status for o in first] == ["ok"]
    mtime = first[0].record.stat().st_mtime_ns
    assert [o.status for o in run(request(tmp_path))] == ["skipped"]
    assert first[0].record.stat().st_mtime_ns == mtime
    changed = run(request(tmp_path, overrides=["train.steps=21"]))
    assert changed[0].status == "ok" and changed[0].record != first[0].record
    assert [o.status for o in run(request(tmp_path, force=True))] == ["ok"]


def test_a_failed_cell_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    def broken(self, batch, stage):
        raise RuntimeError("simulated out of memory")

    monkeypatch.setattr(Muni, "objective", broken)
    outcomes = run(request(tmp_path, methods=["muni", "mvae"]))
    assert [o.status for o in outcomes] == ["failed", "ok"]
    record = read_record(outcomes[0].record)
    assert record["status"] == "failed" and "simulated out of memory" in record["reason"]
    monkeypatch.undo()
    assert [o.status for o in run(request(tmp_path, methods=["muni", "mvae"]))] == ["ok", "skipped"]


def test_an_interrupted_cell_leaves_finished_records_intact_and_resumes_from_its_checkpoint(tmp_path, monkeypatch):
    run(request(tmp_path, methods=["mvae"]))
    done = {p: p.read_bytes() for p in tmp_path.rglob("*.json")}
    original_save = train_module.save_checkpoint
    calls = []

    def save_then_interrupt(path, state):
        original_save(path, state)
        calls.append(state["step"])
        raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        run(request(tmp_path, methods=["mvae", "muni"], overrides=["train.steps=20", "train.checkpoint_every=10"]))
    assert calls == [10]
    assert {p: p.read_bytes() for p in tmp_path.rglob("*.json")} == done  # nothing half-written
    monkeypatch.undo()
    outcomes = run(request(tmp_path, methods=["mvae", "muni"],
                           overrides=["train.steps=20", "train.checkpoint_every=10"]))
    assert [o.status for o in outcomes] == ["skipped", "ok"]
    assert read_record(outcomes[1].record)["train"]["resumed_from"] == 10


def test_a_broken_tracking_store_does_not_stop_the_run(tmp_path):
    outcomes = run(request(tmp_path, tracking_uri="bogus-scheme://nowhere"))
    record = read_record(outcomes[0].record)
    assert record["status"] == "ok"
    assert record["tracking"]["status"] == "failed" and "failed" in record["tracking"]["error"]


def test_parallel_workers_write_the_same_records_as_one_worker(tmp_path):
    serial = run(request(tmp_path / "serial", methods=["muni", "mvae"], workers=1))
    parallel = run(request(tmp_path / "parallel", methods=["muni", "mvae"], workers=2, show_progress=True))
    assert sorted(o.status for o in parallel) == ["ok", "ok"]
    for a in serial:
        b = next(o for o in parallel if o.method == a.method)
        assert a.record.relative_to(tmp_path / "serial") == b.record.relative_to(tmp_path / "parallel")
        ra, rb = read_record(a.record), read_record(b.record)
        assert ra["config_hash"] == rb["config_hash"] and rb["device"]["threads"] == 1
        assert rb["metrics"].keys() == ra["metrics"].keys()


def test_workers_stop_when_the_runner_dies():
    import multiprocessing
    import os
    import signal
    import time

    from bench.runner import die_with_parent

    def worker(ready):
        die_with_parent()
        ready.set()
        time.sleep(60)

    def runner(ready):
        multiprocessing.get_context("fork").Process(target=worker, args=(ready,)).start()
        time.sleep(60)

    ctx = multiprocessing.get_context("fork")
    ready = ctx.Event()
    parent = ctx.Process(target=runner, args=(ready,))
    parent.start()
    assert ready.wait(20)
    (child,) = os.popen(f"pgrep -P {parent.pid}").read().split()
    os.kill(parent.pid, signal.SIGKILL)
    parent.join()

    def state() -> str:  # R/S while alive, Z or gone once it died with its parent
        try:
            return open(f"/proc/{child}/stat").read().split()[2]
        except FileNotFoundError:
            return "gone"

    deadline = time.time() + 10
    while state() not in ("Z", "gone") and time.time() < deadline:
        time.sleep(0.1)
    assert state() in ("Z", "gone")
