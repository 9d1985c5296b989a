"""A metric's value oriented by its ideal, so that smaller is better everywhere a value is ranked against others of
the same metric: the value (lower), its negative (higher), its distance to the oracle's value on the same tuples
(match: the real data's own value at that sample size). Tuning's selection and the report's tuning curves use it."""
from __future__ import annotations

import math

from base.results import MetricSpec


def loss(spec: MetricSpec, value: float | None, oracle: float | None) -> float:
    """Smaller is better; +inf without a finite value (a failed run) or, for "match", without the oracle's."""
    if value is None or not math.isfinite(value):
        return math.inf
    if spec.ideal == "match":
        return abs(value - oracle) if oracle is not None else math.inf
    return -value if spec.ideal == "higher" else value
