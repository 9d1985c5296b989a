import math

from base.results import MetricSpec
from bench.core.ideal import loss

LOWER, HIGHER, MATCH = (MetricSpec(f"m/{ideal}", ideal, "one_to_one", ideal) for ideal in ("lower", "higher", "match"))


def test_smaller_is_better_for_every_ideal():
    assert loss(LOWER, 0.2, 0.0) < loss(LOWER, 0.3, 0.0)
    assert loss(HIGHER, 0.9, 1.0) < loss(HIGHER, 0.5, 1.0)
    assert loss(MATCH, 1.25, 1.0) < loss(MATCH, 0.5, 1.0) and loss(MATCH, 1.25, 1.0) == loss(MATCH, 0.75, 1.0)


def test_a_missing_or_failed_value_is_worst():
    for spec in (LOWER, HIGHER, MATCH):
        assert loss(spec, None, 0.0) == loss(spec, math.nan, 0.0) == math.inf
    assert loss(MATCH, 1.0, None) == math.inf
