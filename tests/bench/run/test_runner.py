import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from bench.core.fingerprint import ROOT
from bench.core.records import read_record, read_samples
from bench.run import train as train_module
from bench.run.runner import RunRequest, run
from methods.muni import Muni


def request(out, **kw):
    base = dict(suite="gaussian_mixture", methods=["muni"], seeds=[0], profile="smoke", out=out,
                show_progress=False, overrides=["train.steps=20"])
    base.update(kw)
    return RunRequest(**base)


def statuses(result):
    return [o.status for o in result.outcomes]


def test_records_have_the_promised_fields_and_no_machine_paths(smoke_results):
    paths = sorted((smoke_results / "gaussian_mixture" / "smoke").rglob("*.json"))
    assert len(paths) == 3
    record = json.loads(paths[0].read_text())
    for key in ("suite", "method", "seed", "profile", "config_hash", "config", "git", "code", "device", "wall_time",
                "metrics", "status", "command", "tracking", "train"):
        assert key in record
    assert set(record["wall_time"]) >= {"data", "train", "eval", "total"}
    metric = record["metrics"]["one_to_one/alignment_mse"]
    assert metric["ideal"] == "lower" and metric["value"] > 0 and len(metric["per_direction"]) == 6
    assert metric["se"] > 0 and len(metric["replicates"]) == record["config"]["eval"]["bootstrap"]
    assert record["references"]["oracle"].startswith("oracle generator")
    assert record["tracking"]["status"] == "ok" and record["tracking"]["run_id"]
    assert record["tracking"]["uri"].startswith("sqlite:///mlflow.db")
    assert len(record["code"]["fingerprint"]) == 12 and "methods/muni.py" in record["code"]["files"]
    samples = read_samples(paths[0].with_name(record["samples"]))
    assert samples["joint/x1"].shape[1] == 60
    ckpt = torch.load(smoke_results / record["checkpoint"], weights_only=True)
    assert "ema" in ckpt and ckpt["config"]["method"] == record["method"]
    for path in paths:
        text = path.read_text()
        assert str(smoke_results) not in text and str(ROOT) not in text and str(Path.home()) not in text


def test_unsupported_directions_are_recorded_as_such(smoke_results):
    path = next((smoke_results / "gaussian_mixture" / "smoke" / "shala").glob("*.json"))
    metric = read_record(path).metrics["many_to_one/alignment_mse"]
    assert metric["status"] == "unsupported" and metric["value"] is None


def finished(smoke_results: Path, tmp_path: Path) -> Path:
    """A copy of the shared smoke run, where request()'s cell (muni, seed 0, 20 steps) is finished."""
    shutil.copytree(smoke_results, tmp_path / "out")
    return tmp_path / "out"


def test_rerun_skips_finished_cells_and_force_reruns(smoke_results, tmp_path):
    out = finished(smoke_results, tmp_path)
    first = run(request(out))
    assert statuses(first) == ["skipped"]
    mtime = first.outcomes[0].record.stat().st_mtime_ns
    assert statuses(run(request(out))) == ["skipped"]
    assert first.outcomes[0].record.stat().st_mtime_ns == mtime
    changed = run(request(out, overrides=["train.steps=21"]))
    assert statuses(changed) == ["ok"] and changed.outcomes[0].record != first.outcomes[0].record
    assert statuses(run(request(out, force=True))) == ["ok"]
    assert first.outcomes[0].record.stat().st_mtime_ns != mtime


def test_a_record_made_by_other_code_is_trained_again(smoke_results, tmp_path):
    out = finished(smoke_results, tmp_path)
    path = next((out / "gaussian_mixture" / "smoke" / "muni").glob("*-seed0.json"))
    record = json.loads(path.read_text())
    record["code"]["files"]["methods/muni.py"] = "0" * 12  # as if methods/muni.py had changed since
    record["code"]["fingerprint"] = "0" * 12
    path.write_text(json.dumps(record))
    again = run(request(out))
    assert statuses(again) == ["ok"] and again.outcomes[0].record == path
    assert read_record(path).code["fingerprint"] != "0" * 12


def test_a_record_or_checkpoint_made_with_another_log_every_is_not_reused(smoke_results, tmp_path, monkeypatch,
                                                                           capsys):
    """log_every is not hashed (a record keeps its name) but shapes the record (the loss curve; logged steps run
    under the FLOP counter, which moves the weights in the last bits): another value trains again, and does not
    resume a checkpoint made with the old one. checkpoint_every shapes nothing: the record is reused."""
    out = finished(smoke_results, tmp_path)
    assert statuses(run(request(out, overrides=["train.steps=20", "train.checkpoint_every=5"]))) == ["skipped"]
    again = run(request(out, overrides=["train.steps=20", "train.log_every=5"]))
    assert statuses(again) == ["ok"] and "its record was made with train.log_every=10" in capsys.readouterr().out
    assert [step for step, _ in read_record(again.outcomes[0].record).train["loss_curve"]] == [5, 10, 15, 20]
    settings = ["train.steps=20", "train.checkpoint_every=10"]
    interrupt_after_checkpoint(monkeypatch, 10)
    run(request(tmp_path / "other", overrides=settings))
    monkeypatch.undo()
    resumed = run(request(tmp_path / "other", overrides=[*settings, "train.log_every=5"])).outcomes[0]
    assert read_record(resumed.record).train["resumed_from"] == 0


def test_duplicate_methods_and_seeds_are_one_cell(smoke_results, tmp_path):
    result = run(request(finished(smoke_results, tmp_path), methods=["muni", "muni"], seeds=[0, 0]))
    assert statuses(result) == ["skipped"]


def test_a_failed_cell_is_recorded_and_the_others_still_run(tmp_path, monkeypatch):
    def broken(self, batch, stage):
        raise RuntimeError("simulated out of memory")

    monkeypatch.setattr(Muni, "objective", broken)
    outcomes = run(request(tmp_path, methods=["muni", "mvae"])).outcomes
    assert [o.status for o in outcomes] == ["failed", "ok"]
    record = read_record(outcomes[0].record)
    assert record["status"] == "failed" and "simulated out of memory" in record["reason"]
    assert str(ROOT) not in record["traceback"]
    monkeypatch.undo()
    assert statuses(run(request(tmp_path, methods=["muni", "mvae"]))) == ["ok", "skipped"]


def interrupt_after_checkpoint(monkeypatch, at_step: int):
    """Ctrl-C right after the checkpoint of `at_step` is written (as a user pressing it between steps)."""
    original = train_module.save_checkpoint

    def save_then_interrupt(path, state):
        original(path, state)
        if state["step"] == at_step:
            raise KeyboardInterrupt

    monkeypatch.setattr(train_module, "save_checkpoint", save_then_interrupt)


def same_numbers(a: Path, b: Path) -> None:
    ra, rb = read_record(a), read_record(b)
    assert ra["metrics"] == rb["metrics"]
    assert ra["train"]["final_terms"] == rb["train"]["final_terms"]
    sa, sb = read_samples(a.with_name(ra["samples"])), read_samples(b.with_name(rb["samples"]))
    assert sa.keys() == sb.keys() and all(np.array_equal(sa[k], sb[k]) for k in sa)


@pytest.mark.parametrize("method, steps, at_step", [("muni", 20, 10), ("shala", 30, 20)])
def test_a_resumed_cell_equals_an_uninterrupted_one_bit_for_bit(smoke_results, tmp_path, monkeypatch, method, steps,
                                                               at_step):
    settings = [f"train.steps={steps}", "train.checkpoint_every=10"]  # shala: stage 2 starts at step 15
    whole = run(request(finished(smoke_results, tmp_path), methods=[method], overrides=settings)).outcomes[0]
    assert whole.status == ("skipped" if steps == 20 else "ok")  # muni's is the shared smoke run's cell
    interrupt_after_checkpoint(monkeypatch, at_step)
    stopped = run(request(tmp_path / "resumed", methods=[method], overrides=settings))
    assert stopped.interrupted and statuses(stopped) == ["interrupted"]
    assert not list((tmp_path / "resumed" / "gaussian_mixture").rglob("*.json"))  # no record of the stopped cell
    monkeypatch.undo()
    resumed = run(request(tmp_path / "resumed", methods=[method], overrides=settings)).outcomes[0]
    assert read_record(resumed.record).train["resumed_from"] == at_step
    same_numbers(whole.record, resumed.record)


def test_interrupted_cells_are_recorded_as_such_only_when_asked(tmp_path, monkeypatch):
    settings = ["train.steps=20", "train.checkpoint_every=10"]
    interrupt_after_checkpoint(monkeypatch, 10)
    stopped = run(request(tmp_path, methods=["mvae", "muni"], overrides=settings, record_interrupted=True))
    assert stopped.interrupted and statuses(stopped) == ["interrupted", "not_started"]
    record = read_record(stopped.outcomes[0].record)
    assert record["status"] == "interrupted" and record["reached_step"] == 10
    assert not stopped.outcomes[1].record.exists()
    monkeypatch.undo()
    resumed = run(request(tmp_path, methods=["mvae", "muni"], overrides=settings))
    assert statuses(resumed) == ["ok", "ok"]
    assert read_record(resumed.outcomes[0].record).train["resumed_from"] == 10


def test_a_corrupt_checkpoint_is_set_aside_and_the_one_before_it_used(tmp_path, monkeypatch):
    settings = ["train.steps=30", "train.checkpoint_every=10"]
    whole = run(request(tmp_path / "whole", overrides=settings)).outcomes[0]
    interrupt_after_checkpoint(monkeypatch, 20)
    stopped = run(request(tmp_path / "run", overrides=settings))
    monkeypatch.undo()
    checkpoint = next((tmp_path / "run" / "checkpoints").rglob("*seed0-????????????.pt"))
    assert checkpoint.with_name(checkpoint.stem + ".prev.pt").exists() and stopped.interrupted
    checkpoint.write_bytes(checkpoint.read_bytes()[:1000])  # truncated, as by a full disk
    resumed = run(request(tmp_path / "run", overrides=settings)).outcomes[0]
    relative = checkpoint.relative_to(tmp_path / "run").as_posix()
    notes = read_record(resumed.record).notes
    assert resumed.status == "ok" and f"checkpoint {relative} could not be read" in notes[0]
    assert str(tmp_path) not in json.dumps(read_record(resumed.record).to_json())  # no machine path in any field
    assert checkpoint.with_name(checkpoint.name + ".corrupt").exists()
    assert read_record(resumed.record).train["resumed_from"] == 10
    same_numbers(whole.record, resumed.record)


def test_an_unreadable_checkpoint_alone_means_a_fresh_start(tmp_path, monkeypatch):
    settings = ["train.steps=20", "train.checkpoint_every=10"]
    interrupt_after_checkpoint(monkeypatch, 10)
    run(request(tmp_path, overrides=settings))
    monkeypatch.undo()
    checkpoint = next((tmp_path / "checkpoints").rglob("*seed0-????????????.pt"))
    checkpoint.write_bytes(b"not a checkpoint")
    outcome = run(request(tmp_path, overrides=settings)).outcomes[0]
    assert outcome.status == "ok" and read_record(outcome.record).train["resumed_from"] == 0
    assert "could not be read" in outcome.notes[0]


def test_a_broken_tracking_store_does_not_stop_the_run(tmp_path, capsys):
    (tmp_path / "afile").write_text("a file where the store's folder should be")
    result = run(request(tmp_path, tracking_uri=f"sqlite:///{tmp_path / 'afile' / 'mlflow.db'}"))
    record = read_record(result.outcomes[0].record)
    assert record["status"] == "ok"
    assert record["tracking"]["status"] == "disabled" and "cannot be used" in record["tracking"]["error"]
    assert result.tracking.error and "untracked" in capsys.readouterr().out


@pytest.mark.slow  # worker processes
def test_parallel_workers_write_the_same_records_as_one_worker(smoke_results, tmp_path):
    """Two cells of the shared smoke run (made one at a time) again, on two workers."""
    parallel = run(request(tmp_path / "parallel", methods=["muni", "shala"], workers=2, show_progress=True)).outcomes
    assert sorted(o.status for o in parallel) == ["ok", "ok"]
    for b in parallel:
        ra, rb = read_record(smoke_results / b.record.relative_to(tmp_path / "parallel")), read_record(b.record)
        assert ra["config_hash"] == rb["config_hash"] and rb["device"]["threads"] == 1
        assert rb["metrics"].keys() == ra["metrics"].keys()  # values may differ in the last bits: 1 thread vs 2


def test_workers_stop_when_the_runner_dies():
    import multiprocessing
    import os
    import signal
    import time

    from bench.run.executor_local import die_with_parent

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
