import csv
import math
from pathlib import Path

import pytest

from base.results import MetricSpec
from bench.core.tuned import Tuned
from bench.report.render.table_csv import write_tuning_csv
from bench.report.tuning import tuning_model, tuning_panels

LOWER = MetricSpec("one_to_one/alignment_mse", "1→1", "one_to_one", "lower")
HIGHER = MetricSpec("one_to_one/recall", "R@5", "one_to_one", "higher")
MATCH = MetricSpec("unconditional/spread", "spread", "unconditional", "match")


def trial(number: int, values: dict[str, float] | None, oracle: dict[str, float] | None = None,
          status: str = "ok", score: float | None = None) -> dict:
    return {"number": number, "settings": {"train.lr": 10.0 ** -(number + 2)}, "config_hash": f"h{number}",
            "status": status, "score": score, "validation": values or {}, "oracle": oracle or {}}


def tuned(**methods: list[dict]) -> Tuned:
    entries = {name: {"complete": all(t["status"] != "pending" for t in trials), "selected_trial": 1,
                      "settings": trials[1]["settings"], "trials": trials} for name, trials in methods.items()}
    return Tuned(Path("tuned.yaml"), {"suite": "s", "profile": "p", "methods": entries})


def curve(trials: list[dict], spec: MetricSpec = LOWER):
    return tuning_model(tuned(m=trials), [spec]).methods[0].curves[spec.key]


def lower(*values: float | None) -> list[dict]:
    return [trial(i, None, status="failed") if v is None else trial(i, {LOWER.key: v}, {LOWER.key: 0.0})
            for i, v in enumerate(values)]


def test_the_expected_best_of_one_trial_is_the_mean_and_of_all_lies_between_it_and_the_best():
    found = curve(lower(3.0, 1.0, 2.0, 6.0))
    assert found.ks == [1, 2, 3, 4] and found.trials == 4 and found.failed == 0
    assert found.expected[0] == pytest.approx(3.0)
    assert all(a >= b for a, b in zip(found.expected, found.expected[1:]))  # more trials, never worse
    assert 1.0 <= found.expected[-1] < found.expected[0]
    assert found.median[-1] == 1.0  # the median of the best of N draws from N is the best trial
    assert all(lo <= m <= hi for lo, m, hi in zip(found.band_best, found.median, found.band_worst))
    assert min(found.band_best) >= 0.0  # the oracle's value bounds the band


def test_a_failed_trial_counts_as_the_worst_and_makes_the_expected_best_infinite():
    failed, worst = curve(lower(1.0, 2.0, None)), curve(lower(1.0, 2.0, 50.0))
    assert failed.failed == 1 and failed.trials == 3
    assert failed.median == worst.median == [2.0, 1.0, 1.0]  # ranked last, like any worse trial
    assert all(v == math.inf for v in failed.expected)  # k draws may all fail
    assert failed.band_worst[0] == math.inf


def test_a_higher_is_better_metric_is_shown_as_its_value_and_its_best_is_the_largest():
    found = curve([trial(i, {HIGHER.key: v}) for i, v in enumerate((0.2, 0.9, 0.5))], HIGHER)
    assert found.quantity == "value"
    assert found.expected[0] == pytest.approx((0.2 + 0.9 + 0.5) / 3)
    assert all(a <= b for a, b in zip(found.expected, found.expected[1:]))
    assert found.median[-1] == 0.9
    assert all(best >= m >= worst for best, m, worst in zip(found.band_best, found.median, found.band_worst))
    assert found.band_best[-1] == math.inf  # no oracle value: no bound on the optimistic side


def test_a_match_metric_is_the_distance_to_the_oracles_value_bounded_by_zero():
    found = curve([trial(i, {MATCH.key: v}, {MATCH.key: 1.0}) for i, v in enumerate((1.5, 0.7, 1.2))], MATCH)
    assert found.quantity == "distance to the oracle's value"
    assert found.expected[0] == pytest.approx((0.5 + 0.3 + 0.2) / 3)
    assert found.median[-1] == pytest.approx(0.2)
    assert min(found.band_best) == 0.0


def test_a_trial_better_than_the_oracle_lifts_the_bound():
    found = curve([trial(i, {LOWER.key: v}, {LOWER.key: 1.5}) for i, v in enumerate((1.0, 2.0, 3.0))])
    assert found.band_best[-1] == -math.inf


def test_pending_trials_are_left_out_and_a_method_keeps_its_trials_settings_and_scores():
    trials = lower(2.0, 1.0) + [trial(2, None, status="pending")]
    trials[0]["score"], trials[1]["score"] = 2.0, 1.0
    model = tuning_model(tuned(m=trials, n=lower(1.0, 2.0)), [LOWER, HIGHER])
    method = model.methods[0]
    assert [m.method for m in model.methods] == ["m", "n"] and not method.complete
    assert method.curves[LOWER.key].trials == 2 and HIGHER.key not in method.curves  # no value of it
    assert method.selected == 1 and [t.selected for t in method.trials] == [False, True, False]
    assert [(t.status, t.score) for t in method.trials] == [("ok", 2.0), ("ok", 1.0), ("pending", None)]
    assert method.trials[0].settings == {"train.lr": 0.01} and method.trials[0].values == {LOWER.key: 2.0}
    panel = tuning_panels(model)[0]
    assert [line.label for line in panel.lines] == ["m", "n"] and tuning_panels(model)[1].lines == []


def test_the_csv_has_a_row_per_method_metric_and_k(tmp_path):
    model = tuning_model(tuned(m=lower(1.0, 2.0, None), n=lower(3.0, 1.0, 2.0)), [LOWER])
    with write_tuning_csv(model, tmp_path / "tuning.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(r["method"], r["k"]) for r in rows] == [("m", "1"), ("m", "2"), ("m", "3"),
                                                     ("n", "1"), ("n", "2"), ("n", "3")]
    assert rows[0]["expected_best"] == "inf" and rows[0]["failed"] == "1" and rows[0]["confidence"] == "0.8"
    assert float(rows[3]["expected_best"]) == pytest.approx(2.0) and rows[3]["quantity"] == "value"
