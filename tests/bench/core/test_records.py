import subprocess
from pathlib import Path

import pytest

from bench.core.records import git_state


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=repo, check=True,
                   capture_output=True)


def test_a_checkout_is_dirty_when_its_code_changed_not_when_a_run_rewrote_its_records(tmp_path):
    for path in ("bench/code.py", "results/s/cpu/m/h-seed0.json", "reports/s.md"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("0\n")
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-qm", "start")
    where = tmp_path / "bench"
    assert git_state(where)["dirty"] is False
    (tmp_path / "results/s/cpu/m/h-seed0.json").write_text("1\n")
    (tmp_path / "reports/s.md").write_text("1\n")
    assert git_state(where)["dirty"] is False  # a rerun rewrote a committed record and report
    (tmp_path / "bench/code.py").write_text("1\n")
    assert git_state(where)["dirty"] is True


def test_every_committed_record_reads_as_a_typed_record_and_round_trips():
    from bench.core.records import READABLE_SCHEMAS, Record, read_records

    results = Path(__file__).resolve().parents[3] / "results"
    records = [r for suite in ("gaussian_mixture", "image_text_audio", "polymnist_quadrant_labels")
               for r in read_records(results, suite, warn=pytest.fail)]
    assert records and all(isinstance(r, Record) and r.schema in READABLE_SCHEMAS for r in records)
    for record in records:
        assert Record.from_json(record.to_json(), record.path) == record
    older = min(records, key=lambda r: r.schema)
    assert older.schema < 4 and older.changed == [] and older.path.is_file()


def test_a_record_of_an_earlier_schema_takes_the_defaults_of_the_fields_it_lacked():
    from bench.core.records import SCHEMA, Record

    old = Record.from_json({"schema": 1, "suite": "gaussian_mixture", "method": "muni", "seed": 0, "profile": "cpu",
                            "config_hash": "abc", "status": "ok", "config": {}, "git": {}, "device": {},
                            "wall_time": {}, "metrics": {}})
    assert old.schema == 1 and old.train == {} and old.samples is None and old.notes == []
    assert Record(**{**old.to_json(), "schema": SCHEMA}).to_json()["schema"] == SCHEMA
    assert old["seed"] == 0 and old.get("reached_step", "none") == "none"  # by key, as base/results.py's Row reads
