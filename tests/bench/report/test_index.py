import re

from bench.report.index import tally, write_index
from tasks.findings import NOT_CHECKED, NOT_REPRODUCED, NOT_TESTABLE, REPRODUCED, UNDECIDED, Finding, note


def test_a_findings_tally_counts_each_verdict_once_and_no_note():
    findings = [Finding("A beats B", REPRODUCED), Finding("C", NOT_REPRODUCED), Finding("D", UNDECIDED),
                Finding("E", REPRODUCED), Finding("F", NOT_CHECKED), Finding("G", NOT_TESTABLE),
                note("Data: scikit-learn's digits, not reproduced at MNIST's size")]
    assert tally(findings) == "2 reproduced, 1 not reproduced, 1 undecided, 1 not testable, 1 not checked"
    assert tally([]) == "none checked"


def test_the_index_has_a_line_per_suite_with_records_and_links_its_report(smoke_results, tmp_path):
    text = write_index(smoke_results, tmp_path).read_text()
    assert text.startswith("# Where the harness stands on the paper's benchmarks")
    line = next(line for line in text.splitlines() if line.startswith("| gaussian_mixture |"))
    assert "| `smoke` |" in line and "[smoke/gaussian_mixture.md](smoke/gaussian_mixture.md)" in line
    assert re.search(r"\| [0-3] of 3 \|", line)  # settled cells of muni's two seeds and shala's one
    assert "image_text_audio" not in text  # no records, no line


def test_report_all_refuses_a_suite_or_profile_beside_it(capsys):
    from bench.cli import main

    assert main(["report", "--all", "--suite", "gaussian_mixture"]) == 2
    assert "--all writes every suite" in capsys.readouterr().err
