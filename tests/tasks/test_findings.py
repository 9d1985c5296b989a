import numpy as np

from base.results import Row
from tasks.findings import NOT_CHECKED, NOT_REPRODUCED, REPRODUCED, UNDECIDED
from tasks.gaussian_mixture.findings import COH, FID, check_findings, check_rows, exact
from tasks.gaussian_mixture.suite import GaussianMixture
from tasks.verdicts import Estimate, above, compare

PAPER = exact(GaussianMixture.paper_reference())


def with_value(key: str, method: str, estimate: Estimate):
    table = {m: dict(v) for m, v in PAPER.items()}
    table[method][key] = estimate
    return table


def noisy(mean: float, spread: float, seeds: int = 1, resamples: int = 200, seed: int = 0) -> Estimate:
    """An estimate whose per-seed replicates scatter by `spread` around the mean (the same resamples for every
    estimate made with the same seed)."""
    rng = np.random.default_rng(seed)
    shared = rng.standard_normal(resamples)
    return Estimate({s: mean for s in range(seeds)}, {s: mean + spread * shared for s in range(seeds)})


def test_every_finding_holds_on_the_papers_own_table():
    found = check_findings(PAPER, PAPER)
    assert len(found) == 9 and all(f.verdict == REPRODUCED for f in found), found


def test_a_broken_ordering_is_reported_as_not_reproduced():
    first = check_findings(with_value(COH, "muni", Estimate({0: 10.0}, exact=True)), PAPER)[0]
    assert first.claim == "MUNI has the best unconditional coherence" and first.verdict == NOT_REPRODUCED
    assert [(n.method, n.mean, n.role) for n in first.ours] == [("muni", 10.0, ""), ("mvae", 0.2801, "best other")]
    assert first.paper[0].mean == 0.0394 and first.paper[0].se is None


def test_a_paired_difference_whose_interval_contains_zero_is_a_tie_and_one_beyond_it_is_decided():
    runner_up = min(v[FID].mean for m, v in PAPER.items() if m != "muni")
    table = {m: {k: noisy(e.mean, 0.01, seed=1) for k, e in v.items()} for m, v in PAPER.items()}
    # the same resamples move every method alike: a paired gap of 0.002 is decided however noisy each value is
    table["muni"][FID] = noisy(runner_up - 0.002, 0.01, seed=1)
    assert check_findings(table, PAPER)[1].verdict == REPRODUCED
    # independent noise on MUNI's value: the gap lies inside the interval of the difference
    table["muni"][FID] = noisy(runner_up - 0.002, 0.01, seed=2)
    assert check_findings(table, PAPER)[1].verdict == UNDECIDED
    table["muni"][FID] = noisy(runner_up - 0.1, 0.01, seed=2)
    assert check_findings(table, PAPER)[1].verdict == REPRODUCED


def test_a_ratio_threshold_is_a_tie_when_its_interval_contains_the_threshold():
    a, b = noisy(2.4, 0.05, seed=3), noisy(1.0, 0.05, seed=4)
    assert compare([a, b], lambda x, y: 2.5 * y - x).decide() is None  # 2.4 vs 2.5·1.0, noise ~0.13
    assert compare([noisy(1.5, 0.05, seed=3), b], lambda x, y: 2.5 * y - x).decide() is True


def test_two_identical_methods_have_a_paired_difference_of_exactly_zero():
    same = noisy(0.3, 0.02, seeds=3, seed=5)
    interval = compare([same, same], lambda x, y: x - y)
    assert interval.value == interval.low == interval.high == 0.0
    assert above(same, same) is None


def test_the_findings_of_a_table_whose_two_best_methods_are_identical_are_ties():
    """MUNI's and MoPoE's records are the same numbers (every seed, every resample): 'MUNI has the best
    coherence' can be neither reproduced nor refuted, whatever the other methods score."""
    def record(seed: int, value: float, replicates) -> dict:
        return {"seed": seed, "metrics": {key: {"value": value, "replicates": list(replicates)}
                                          for key in (COH, FID, *PAPER["muni"])}}
    rng = np.random.default_rng(6)
    best = [record(s, 0.1, 0.1 + 0.01 * rng.standard_normal(100)) for s in range(3)]
    rows = [Row("muni", "a", [], best), Row("mopoe", "b", [], best)]
    rows += [Row(m, m, [], [record(s, 1.0, 1.0 + 0.01 * rng.standard_normal(100)) for s in range(3)])
             for m in PAPER if m not in ("muni", "mopoe")]
    first = check_rows(rows, GaussianMixture.paper_reference())[0]
    assert first.claim == "MUNI has the best unconditional coherence" and first.verdict == UNDECIDED
    # the best other method is named with the methods it cannot be told apart from
    assert [(n.method, n.role) for n in first.ours] == [("muni", ""), ("mopoe", "best other")]


def test_missing_methods_are_named():
    ours = {m: v for m, v in PAPER.items() if m != "shala"}
    first = check_findings(ours, PAPER)[0]
    assert first.verdict == NOT_CHECKED and first.caveat == "no results for shala"


def test_the_best_other_method_names_the_methods_tied_with_it():
    table = {m: {k: noisy(e.mean, 0.001, seed=7) for k, e in v.items()} for m, v in PAPER.items()}
    table["mvae"][COH] = noisy(0.2801, 0.001, seed=7)
    table["mopoe"][COH] = noisy(0.2802, 0.05, seed=8)  # indistinguishable from the best other, mvae
    found = check_findings(table, PAPER)[0]
    roles = {n.method: n.role for n in found.ours}
    assert roles["mvae"] == "best other" and roles["mopoe"] == "tied with the best other"
