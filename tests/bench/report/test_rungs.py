"""The report's reading of tuned settings and of the budget's rungs (bench/report/rows.py: tuned_view;
bench/report/rungs.py), on records made up for the purpose."""
import numpy as np

from bench.core.tuned import Tuned
from bench.report.rows import SHARED, collect_rows, tuned_view
from bench.report.rungs import adjacent_pairs, finding_stability, ladder
from tasks.base import MetricSpec
from tasks.findings import REPRODUCED, UNDECIDED, Finding
from tests.bench.records import as_record

KEY = "one_to_one/alignment_mse"
SPEC = MetricSpec(KEY, "1→1", "one_to_one", "lower")


def entry(value: float, seed: int) -> dict:
    noise = np.random.default_rng(seed).standard_normal(100)  # the same resamples for every method of a seed
    return {"value": value, "replicates": list(value + 0.001 * noise)}


def record(method: str, seed: int, final: float, early: float, overrides=(), config_hash: str = "h",
           steps: int = 100) -> object:
    return as_record({"method": method, "seed": seed, "overrides": list(overrides), "config_hash": config_hash,
                      "config": {"train": {"steps": steps, "budget": "steps"}}, "train": {"steps": steps},
                      "metrics": {KEY: entry(final, seed)},
                      "rungs": [{"fraction": 0.75, "step": 3 * steps // 4, "metrics": {KEY: entry(early, seed)}}]})


def test_the_tuned_view_makes_tuned_records_the_tables_rows_and_drops_unselected_trials():
    tuned = Tuned(None, {"methods": {"muni": {"complete": True, "settings": {"train.lr": 0.0005},
                                              "trials": [{"number": 0, "config_hash": "t0"},
                                                         {"number": 1, "config_hash": "t1"}]},
                                     "mopoe": {"complete": False, "settings": None,
                                               "trials": [{"number": 0, "config_hash": "p0"}]}}})
    records = [record("muni", 0, 1, 1, ["train.lr=0.0005"], "t0"), record("muni", 1, 1, 1, ["train.lr=0.0005"], "t0"),
               record("muni", 0, 1, 1, ["train.lr=0.002"], "t1"),  # a trial not selected
               record("muni", 0, 1, 1, [], "shared"),  # the shared settings
               record("muni", 0, 1, 1, ["train.lr=0.0005", "train.steps=200"], "twice"),
               record("mopoe", 0, 1, 1, ["train.lr=0.0005"], "p0"),  # a trial of a tuning still running
               record("mopoe", 0, 1, 1, [], "m")]
    rows = {(row.method, tuple(row.overrides)): len(row.records) for row in collect_rows(tuned_view(records, tuned))}
    assert rows == {("muni", ()): 2, ("muni", (SHARED,)): 1, ("muni", ("train.steps=200",)): 1, ("mopoe", ()): 1}


def test_a_verdict_is_budget_stable_only_when_every_rung_agrees():
    records = ([record("a", s, 1.0, 2.0) for s in range(3)] + [record("b", s, 1.5, 1.5, config_hash="hb")
                                                               for s in range(3)]
               + [record(m, 0, v, v, ["train.steps=200"], f"{m}2", steps=200) for m, v in (("a", 0.5), ("b", 1.4))])
    rows = collect_rows(records)
    plain = [row for row in rows if not row.overrides]
    rungs = ladder(rows, plain)
    assert [(r.label, r.steps) for r in rungs] == [("0.75×", 75), ("1×", 100), ("2×", 200)]
    (pair,) = adjacent_pairs(rungs, [SPEC], {})
    assert (pair.better, pair.worse) == ("a", "b")
    assert pair.stability.by_rung == {"0.75×": "behind", "1×": "ahead", "2×": "ahead"}
    assert pair.stability.stable is False and "behind at 0.75×" in pair.stability.describe()

    class Suite:
        @staticmethod
        def findings(rows):
            ours = {row.method: row.records for row in rows}
            ahead = np.mean([r.metrics[KEY]["value"] for r in ours["a"]]) < np.mean(
                [r.metrics[KEY]["value"] for r in ours["b"]])
            return [Finding("a beats b", REPRODUCED if ahead else UNDECIDED)]

    ((finding, stability),), notes = finding_stability(Suite, rungs)
    assert finding.rung == "1×" and finding.verdict == REPRODUCED and notes == []
    assert stability.by_rung == {"0.75×": UNDECIDED, "1×": REPRODUCED, "2×": REPRODUCED} and not stability.stable


def test_a_rung_that_cannot_check_a_finding_leaves_its_stability_to_the_others():
    from bench.report.rungs import Stability

    found = Stability({"0.75×": "reproduced", "1×": "reproduced"}, ("2×",))
    assert found.stable is True
    assert found.describe() == "budget-stable (0.75×, 1×); not checked at 2×"
    assert Stability({"1×": "reproduced"}, ("2×",)).describe() == "one budget only; not checked at 2×"
