from dataclasses import replace

from tasks.gaussian_mixture.findings import COH, FID, Stat, check_findings, exact
from tasks.gaussian_mixture.suite import GaussianMixture

PAPER = exact(GaussianMixture.paper_reference())


def with_value(key: str, method: str, stat: Stat):
    table = {m: dict(v) for m, v in PAPER.items()}
    table[method][key] = stat
    return table


def test_every_finding_holds_on_the_papers_own_table():
    lines = check_findings(PAPER, PAPER)
    assert len(lines) == 9 and all("**reproduced**" in line for line in lines), lines


def test_a_broken_ordering_is_reported_as_not_reproduced():
    lines = check_findings(with_value(COH, "muni", Stat(10.0)), PAPER)
    assert "MUNI has the best unconditional coherence: **not reproduced**" in lines[0]
    assert "ours: muni coherence 10, best other coherence: mvae 0.2801;" in lines[0]
    assert "paper: muni coherence 0.0394" in lines[0]


def test_a_difference_inside_the_floor_or_the_seed_spread_is_a_tie():
    runner_up = min(v[FID].mean for m, v in PAPER.items() if m != "muni")
    # MUNI better by 0.002 while real data itself scores 0.04: not a finding either way
    close = with_value(FID, "muni", Stat(runner_up - 0.002, 0.0, 0.04))
    assert "**undecided**" in check_findings(close, PAPER)[1]
    # the same gap with no floor but a seed spread of 0.003 on each side: a tie again
    spread = {m: {k: replace(s, se=0.003) for k, s in v.items()} for m, v in close.items()}
    spread["muni"][FID] = Stat(runner_up - 0.002, 0.003)
    assert "**undecided**" in check_findings(spread, PAPER)[1]
    # a gap well beyond spread and floor is decided
    clear = with_value(FID, "muni", Stat(runner_up - 0.05, 0.001, 0.01))
    assert "**reproduced**" in check_findings(clear, PAPER)[1]


def test_missing_methods_are_named():
    ours = {m: v for m, v in PAPER.items() if m != "shala"}
    assert "cannot check here (no results for shala)" in check_findings(ours, PAPER)[0]
