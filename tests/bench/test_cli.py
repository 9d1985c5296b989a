import importlib.util
import json
import subprocess
import sys

import pytest

from bench.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("command", ["run", "list", "report", "perf"])
def test_every_option_of_every_command_is_explained_in_its_help(capsys, command):
    from bench.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0 and out.startswith(f"usage: bench {command}")
    for action in sub._actions:
        assert action.help, f"{action.dest} has no help"
        words = " ".join(action.help.split()).split("%")[0][:30]
        for flag in action.option_strings:
            assert flag in out
        assert words in out, f"the help of {action.dest} is not shown"


def test_help_and_a_cached_list_do_not_load_the_heavy_stack(tmp_path, monkeypatch, capsys):
    """`--help` and `bench list` answer without importing torch (measured: about 0.05 s each here; the first
    `bench list` after a change to the code builds its cache, which takes seconds: here, in this process)."""
    probe = ("import sys; from bench.cli import main\n"
             "for argv in (['--help'], ['run', '--help'], ['report', '--help'], ['list']):\n"
             "    try:\n        main(argv)\n    except SystemExit:\n        pass\n"
             "print('LOADED' if 'torch' in sys.modules else 'LIGHT', file=sys.stderr)")
    monkeypatch.setenv("MUNI_BENCH_CACHE", str(tmp_path))
    assert main(["list"]) == 0
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.stderr.strip().endswith("LIGHT"), result.stderr


def test_the_list_cache_follows_the_code(tmp_path, monkeypatch):
    import shutil

    from bench import listing
    from bench.core import fingerprint

    for package in fingerprint.PACKAGES:
        shutil.copytree(fingerprint.ROOT / package, tmp_path / package)
    monkeypatch.setattr(fingerprint, "ROOT", tmp_path)
    monkeypatch.setenv("MUNI_BENCH_CACHE", str(tmp_path / "cache"))
    text = listing.cached_listing("metrics")
    monkeypatch.setattr(listing, "listing", lambda what: "rebuilt")
    assert listing.cached_listing("metrics") == text  # from the cache
    with open(tmp_path / "metrics" / "base.py", "a") as f:
        f.write("\n# a change\n")
    assert listing.cached_listing("metrics") == "rebuilt"  # the code changed: the cache is not used


def test_list_shows_methods_with_directions_suites_metrics_and_profiles(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert "shala            1→1 --- uncond" in out
    assert "gaussian_mixture" in out and "sliced_wasserstein   lower is better" in out and "smoke" in out


@pytest.mark.slow  # end to end through the command line
def test_run_then_report_end_to_end(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", "--methods", "muni,mopoe", "--profile", "smoke", "--out",
                           str(tmp_path / "r"), "--set", "train.steps=10", "--quiet")
    assert code == 0 and "2 cells ran, 0 already done, 0 failed" in out
    code, out, _ = run_cli(capsys, "run", "--methods", "muni,mopoe", "--profile", "smoke", "--out",
                           str(tmp_path / "r"), "--set", "train.steps=10", "--quiet")
    assert code == 0 and "0 cells ran, 2 already done" in out
    assert "every cell is already done" in out and "--force" in out and "--out DIR" in out
    code, out, _ = run_cli(capsys, "report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "rep"))
    assert code == 0 and (tmp_path / "rep" / "smoke" / "gaussian_mixture.md").exists()
    record = next((tmp_path / "r").rglob("*.json")).read_text()
    assert "python -m bench run --methods muni,mopoe --profile smoke" in record


@pytest.mark.slow  # end to end through the command line
def test_perf_measures_methods_and_the_reference_ceiling(capfd, tmp_path):
    code, out, err = run_cli(capfd, "perf", "--methods", "muni", "--profile", "smoke", "--repeats", "1",
                           "--steps", "1", "--out", str(tmp_path / "rep"), "--results", str(tmp_path / "r"))
    assert code == 0 and "measuring the reference network" in out
    record = json.loads((tmp_path / "r" / "perf" / "gaussian_mixture-smoke-cpu.json").read_text())
    reference = record["reference"]
    assert all(r["flops_per_step"] > 0 and r["ratio_to_peak"] > 0 for r in reference)
    assert [r["rows"] for r in reference] == sorted({r["rows"] for r in reference})  # three growing sizes
    assert [m["method"] for m in record["methods"]] == ["muni"]
    fewest, most = record["methods"][0]["rows_per_network_call"]
    assert 0 < fewest < most  # muni's routed decoders see part of the batch, its encoders all of it
    assert record["threads"] == 1 and record["cells_side_by_side"] >= 1  # one per core: as a cell of bench run
    row = record["methods"][0]
    assert 0 < row["matmul_share"] < 1.5 and row["matmul_gflops"] > 0  # the profiled split of the step
    assert [s["modalities"] for s in record["stacking"]] == [["x1", "x2", "x3"]] * 2  # routed rows, then a batch
    assert all(s["separate_seconds"] > 0 and s["stacked_seconds"] > 0 for s in record["stacking"])
    text = (tmp_path / "rep" / "perf.md").read_text()
    assert "| muni |" in text and "| rows per call | GFLOP/s | of matmul peak |" in text
    assert "| rows per decoder | one after another ms | stacked ms | speed-up |" in text
    assert "USDT" not in err  # the profiler's own start/stop lines are kept off the terminal


def test_run_help_names_every_profile(capsys):
    from bench.core.config import PROFILES

    with pytest.raises(SystemExit):
        main(["run", "--help"])
    assert " | ".join(PROFILES) in " ".join(capsys.readouterr().out.split())


RAY_MATRIX = ["run", "--suite", "gaussian_mixture", "--profile", "smoke", "--quiet", "--methods", "muni"]


def test_ray_options_need_ray_and_its_executor(tmp_path, capsys, monkeypatch):
    assert main([*RAY_MATRIX, "--ray-address", "127.0.0.1:6379"]) == 2
    assert "--ray-address is an option of --executor ray" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    assert main([*RAY_MATRIX, "--out", str(tmp_path), "--executor", "ray"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "bench: error: --executor ray needs Ray, which is not installed: pip install -e '.[ray]'"
