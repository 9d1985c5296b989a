import math

import pytest

from base.results import MetricSpec
from bench.core.records import Record
from bench.report.learning import learning_model, learning_panels
from bench.report.rows import collect_rows
from tests.bench.records import as_record

LOWER = MetricSpec("one_to_one/alignment_mse", "1→1", "one_to_one", "lower")
HIGHER = MetricSpec("one_to_one/recall", "R@5", "one_to_one", "higher")
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def record(seed: int, values: dict[str, list[float]], oracle: dict[str, float], method: str = "muni",
           config_hash: str = "a" * 12, split: str | None = "validation") -> Record:
    """Checks at each quarter of 40 steps; `values`: metric -> its value at each."""
    checks = [{"step": int(40 * f), "fraction": f, "n": 32,
               "metrics": {k: v[i] for k, v in values.items()}, "se": {}} for i, f in enumerate(FRACTIONS)]
    for check in checks:
        if split:
            check |= {"split": split, "oracle": dict(oracle)}
    return as_record({"method": method, "seed": seed, "config_hash": config_hash, "train": {"checks": checks},
                      "config": {"eval": {"rung": 0.75}}})


def test_each_step_is_the_mean_distance_to_the_oracle_over_seeds_with_its_standard_error():
    records = [record(0, {LOWER.key: [3.0, 2.0, 1.5, 1.0]}, {LOWER.key: 0.5}),
               record(1, {LOWER.key: [5.0, 2.0, 0.5, 0.0]}, {LOWER.key: 0.5})]
    (row,) = learning_model(collect_rows(records), [LOWER]).rows
    found = row.curves[LOWER.key]
    assert [p.step for p in found.points] == [10, 20, 30, 40] and found.marker_step == 30
    assert [p.distance for p in found.points] == pytest.approx([3.5, 1.5, 0.5, 0.5])
    assert found.points[0].se == pytest.approx(1.0)  # sd of (2.5, 4.5) is sqrt(2), over sqrt(2) seeds
    assert found.points[2].se == pytest.approx(0.5) and found.points[2].seeds == 2


def test_a_higher_metric_is_its_distance_to_the_oracle_and_one_seed_has_no_standard_error():
    (row,) = learning_model(collect_rows([record(0, {HIGHER.key: [0.2, 0.5, 0.9, 0.7]}, {HIGHER.key: 0.8})]),
                            [HIGHER]).rows
    points = row.curves[HIGHER.key].points
    assert [p.distance for p in points] == pytest.approx([0.6, 0.3, 0.1, 0.1])
    assert all(p.se is None and p.seeds == 1 for p in points)


def test_one_row_per_configuration_and_checks_on_test_tuples_are_left_out():
    records = [record(0, {LOWER.key: [1.0] * 4}, {LOWER.key: 0.0}),
               record(0, {LOWER.key: [2.0] * 4}, {LOWER.key: 0.0}, config_hash="b" * 12),
               record(0, {LOWER.key: [9.0] * 4}, {}, method="mvae", split=None)]
    records[1].overrides = ["train.lr=0.01"]
    model = learning_model(collect_rows(records), [LOWER, HIGHER])
    assert [r.label for r in model.rows] == ["muni", "muni [train.lr=0.01]"]  # mvae's checks were on test tuples
    assert all(HIGHER.key not in r.curves for r in model.rows)
    panels = learning_panels(model)
    line = panels[0].lines[1]
    assert line.distance == [2.0] * 4 and line.marker_step == 30 and all(math.isnan(v) for v in line.low)
    assert panels[1].lines == []
