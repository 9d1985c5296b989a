import json
import re
from pathlib import Path

from bench.report.readme import BEGIN, BLOCKS, END, block_pattern, equal_flops, guide_pages, main_job, refreshed

ROOT = Path(__file__).resolve().parents[3]


def record(method: str, seed: int, start: str, end: str, settled: bool, flops: float = 1e12) -> dict:
    last = 1.0 if settled else 2.0
    key = "unconditional/coherence_mse"  # a headline metric of the suite; the oracle's value is 0
    checks = [{"step": s, "fraction": s / 8, "split": "validation", "metrics": {key: v}, "se": {key: 0.1},
               "oracle": {key: 0.0}} for s, v in ((4, 1.0), (6, 1.0), (7, 1.0), (8, last))]
    return {"schema": 3, "status": "ok", "suite": "gaussian_mixture", "metrics": {}, "config": {}, "git": {},
            "wall_time": {}, "profile": "cpu", "method": method, "seed": seed,
            "overrides": [], "config_hash": "abc", "device": {"type": "cpu", "threads": 1},
            "started_at": f"2026-12-01T{start}:00+00:00", "finished_at": f"2026-12-01T{end}:00+00:00",
            "train": {"checks": checks}, "code": {"files": {}}, "budget": {"flops": flops}}


def write(tmp_path: Path, records: list[dict]) -> Path:
    for i, r in enumerate(records):
        folder = tmp_path / "gaussian_mixture" / "cpu" / r["method"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"abc{i}-seed{r['seed']}.json").write_text(json.dumps(r))
    return tmp_path


def test_the_main_job_sentence_comes_from_its_records(tmp_path):
    results = write(tmp_path, [record("muni", 0, "10:00", "10:20", True), record("mopoe", 0, "10:00", "10:25", True),
                               record("muni", 1, "11:00", "11:10", False), record("mopoe", 1, "11:00", "11:12", True)])
    text = main_job(results)
    assert "2 methods × 2 seeds" in text and "took 37 min wall clock for its 4 cells" in text
    assert "3 of 4 cells settled" in text and "finished 2026-12-01" in text
    assert "made by other code" in text  # the fixture's records carry no fingerprint of this code
    assert "no committed records" in main_job(tmp_path / "empty")


def test_a_block_is_made_again_and_the_prose_around_it_is_kept(tmp_path):
    results = write(tmp_path, [record("muni", 0, "10:00", "10:20", True), record("mopoe", 0, "10:00", "10:25", True)])
    before = f"Intro.\n{BEGIN.format(name='main-job')}\nold typed number: 99 min\n{END.format(name='main-job')}\nEnd.\n"
    after = refreshed(before, results)
    assert after.startswith("Intro.\n") and after.endswith("End.\n") and "99 min" not in after
    assert main_job(results) in after and refreshed(after, results) == after


def test_the_committed_readme_blocks_are_current_with_the_committed_records():
    pages = {path: path.read_text() for path in guide_pages(ROOT / "README.md")}
    lost = [name for name in BLOCKS if not any(block_pattern(name).search(text) for text in pages.values())]
    assert not lost, f"README and docs/ lost generated blocks: {lost}"
    stale = [path.name for path, text in pages.items() if refreshed(text, ROOT / "results") != text]
    assert not stale, f"generated blocks out of date in {stale}: run 'python -m bench report --readme README.md'"


def test_readme_opens_with_the_commands_and_the_main_jobs_answer():
    head = "\n".join((ROOT / "README.md").read_text().splitlines()[:40])
    assert "python -m bench run --methods all --suite gaussian_mixture" in head and "python -m pytest" in head
    assert block_pattern("main-job-answer").search(head + "\n"), "the main job's answer left README's first 40 lines"


def test_every_page_the_readme_links_exists():
    readme = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\((docs/[^)#]+)", readme)
    assert links and all((ROOT / link).is_file() for link in links)
    for page in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([\w-]+\.md)", page.read_text()):
            assert (page.parent / link).is_file(), f"{page.name} links a missing page {link}"


def test_the_equal_flop_command_uses_the_main_jobs_mean_counted_flops_per_method(tmp_path):
    results = write(tmp_path, [record("muni", 0, "10:00", "10:20", True, 1e12), record("muni", 1, "10:00", "10:20",
                               True, 3e12), record("mopoe", 0, "10:00", "10:25", True, 6e12)])
    text = equal_flops(results)
    assert "--set train.budget=flops --set train.budget_amount=4e+12" in text  # (2e12 + 6e12) / 2
    assert "over its 2 methods" in text


def test_job_times_come_from_each_suites_records(tmp_path):
    from bench.report.readme import job_times

    first, second = record("muni", 0, "10:00", "10:20", True), record("mopoe", 0, "10:00", "10:30", True)
    first["wall_time"], second["wall_time"] = {"total": 1200, "train": 900, "eval": 300}, {"total": 1800,
                                                                                          "train": 1500, "eval": 300}
    text = job_times(write(tmp_path, [first, second]))
    assert "`gaussian_mixture` (2 methods, 1 seed, finished 2026-12-01): 30 min wall clock per seed" in text
    assert "per cell 20.0-30.0 min, of which training 15.0-25.0 and evaluation 5.0" in text
    assert "`image_text_audio`: no committed records" in text


def test_the_test_run_block_quotes_the_recorded_run(tmp_path):
    from bench.report.readme import test_run

    assert "no recorded test run" in test_run(tmp_path)
    (tmp_path / "tests.json").write_text(json.dumps({"counts": {"passed": 500, "failed": 0, "skipped": 13},
                                                     "seconds": 174.0, "date": "2026-12-03T18:00:00+00:00",
                                                     "machine": "a CPU, 2 cores", "command": "pytest -q"}))
    assert test_run(tmp_path) == ("The last recorded full run (2026-12-03, a CPU, 2 cores, `pytest -q`): 500 passed, "
                                  "13 skipped in 2.9 min.")
    (tmp_path / "tests-not-slow.json").write_text(json.dumps({
        "counts": {"passed": 480, "failed": 0, "skipped": 13}, "seconds": 55.4, "date": "2026-12-03T18:10:00+00:00",
        "machine": "a CPU, 2 cores", "command": "pytest -q -m not slow"}))
    assert test_run(tmp_path).endswith(" The last quick run (`pytest -q -m not slow`, 2026-12-03): 480 passed, "
                                       "13 skipped in 55 s.")


def test_the_throughput_block_reads_bench_perf(tmp_path):
    from bench.report.readme import throughput

    assert "no committed `bench perf`" in throughput(tmp_path)
    (tmp_path / "perf").mkdir()
    methods = [{"method": "muni", "ratio_to_peak": 0.6, "samples_per_second": 5000.0},
               {"method": "mvae", "ratio_to_peak": 0.8, "samples_per_second": 1500.0}]
    (tmp_path / "perf" / "gaussian_mixture-cpu-cpu.json").write_text(json.dumps(
        {"precision": "fp32", "profile": "cpu", "machine": "m", "date": "2026-11-29T00:00:00", "command": "c",
         "peak_gflops": 92.0, "methods": methods, "stacking": [{"rows": 102, "speedup": 0.93}]}))
    text = throughput(tmp_path)
    assert "matmul peak median 92 GFLOP/s; methods at 60% (muni) to 80% (mvae) of it, 1.5k-5.0k samples/s" in text
    assert "0.93× at 102 rows" in text


def test_the_readmes_test_command_is_what_ci_runs():
    from bench.core.fingerprint import ROOT

    readme = (ROOT / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "python -m pytest" in line and "pip install" in line)
    ci = (ROOT / ".ci" / "run").read_text()
    extras = re.search(r"pip install (?:--quiet )?-e '(\.\[[\w,]+\])'", ci).group(1)
    pytest_args = re.search(r"python -m pytest(.*)", ci).group(1).strip()
    assert f"pip install -e '{extras}'" in command and "ruff check ." in command and "ruff check ." in ci
    assert command.endswith(f"python -m pytest {pytest_args}")
