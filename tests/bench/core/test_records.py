import subprocess
from pathlib import Path

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
