import json

import pytest

from bench.cli import main


def run_cli(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("argv, message", [
    (["run", "--methods", "munii"], "unknown method 'munii'; available: muni, muni_hellinger"),
    (["run", "--suite", "polymnist"], "unknown suite 'polymnist'; available: gaussian_mixture"),
    (["run", "--profile", "fast"], "unknown profile 'fast'; available: smoke, cpu, paper"),
    (["run", "--seeds", "0,x"], "--seeds expects comma-separated integers"),
    (["run", "--set", "train.stepz=3"], "did you mean train.steps?"),
    (["run", "--set", "train.steps=abc"], "train.steps expects an integer, got 'abc'"),
    (["run", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["report", "--results", "/nonexistent"], "no result records for suite 'gaussian_mixture'"),
    (["list", "gadgets"], "invalid choice: 'gadgets'"),
])
def test_usage_errors_are_one_line_and_exit_2(capsys, argv, message):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2
    assert err.startswith("bench: error: ") and message in err and err.count("\n") == 1


@pytest.mark.parametrize("command", ["run", "list", "report", "perf"])
def test_help_is_complete(capsys, command):
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "usage: bench " + command in out
    if command == "run":
        for flag in ("--methods", "--suite", "--profile", "--seeds", "--device", "--set", "--out", "--tracking-uri",
                     "--force"):
            assert flag in out


def test_list_shows_methods_with_directions_suites_metrics_and_profiles(capsys):
    code, out, _ = run_cli(capsys, "list")
    assert code == 0
    assert "shala            1→1 --- uncond" in out
    assert "gaussian_mixture" in out and "sliced_wasserstein   lower is better" in out and "smoke" in out


def test_run_then_report_end_to_end(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "run", "--methods", "muni,mopoe", "--profile", "smoke", "--out",
                           str(tmp_path / "r"), "--set", "train.steps=10", "--quiet")
    assert code == 0 and "2 cells ran, 0 already done, 0 failed" in out
    code, out, _ = run_cli(capsys, "run", "--methods", "muni,mopoe", "--profile", "smoke", "--out",
                           str(tmp_path / "r"), "--set", "train.steps=10", "--quiet")
    assert code == 0 and "0 cells ran, 2 already done" in out
    code, out, _ = run_cli(capsys, "report", "--results", str(tmp_path / "r"), "--out", str(tmp_path / "rep"))
    assert code == 0 and (tmp_path / "rep" / "smoke" / "gaussian_mixture.md").exists()
    record = next((tmp_path / "r").rglob("*.json")).read_text()
    assert "python -m bench run --methods muni,mopoe --profile smoke" in record


def test_perf_measures_methods_and_the_reference_ceiling(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "perf", "--methods", "muni", "--profile", "smoke", "--repeats", "1",
                           "--steps", "1", "--out", str(tmp_path / "rep"), "--results", str(tmp_path / "r"))
    assert code == 0 and "measuring the reference network" in out
    record = json.loads((tmp_path / "r" / "perf" / "gaussian_mixture-smoke-cpu.json").read_text())
    reference = record["reference"]
    assert all(r["flops_per_step"] > 0 and r["ratio_to_peak"] > 0 for r in reference)
    assert [r["rows"] for r in reference] == sorted({r["rows"] for r in reference})  # three growing sizes
    assert [m["method"] for m in record["methods"]] == ["muni"]
    fewest, most = record["methods"][0]["rows_per_network_call"]
    assert 0 < fewest < most  # muni's routed decoders see part of the batch, its encoders all of it
    text = (tmp_path / "rep" / "perf.md").read_text()
    assert "| muni |" in text and "| rows per call | GFLOP/s | of matmul peak |" in text
