"""What ranking a row on one metric needs: the real data's value that "match" metrics are ranked against and the
sort key of a value (the ranks themselves: bench/report/model.py); a row's mean and spread over seeds."""
from __future__ import annotations

import math

import numpy as np

from base.results import Row
from tasks.base import MetricSpec
from tasks.verdicts import Estimate, reference_estimate

REAL = "oracle"  # the reference row whose values are the real data's: what "match" metrics are ranked against


def summarize(values: list[float] | None) -> tuple[float, float, int] | None:
    if values is None or not values:
        return None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, len(arr)


def real_value(rows: list[Row], spec: MetricSpec) -> Estimate | None:
    """The real data's value of a "match" metric: the oracle reference row's."""
    return reference_estimate(rows, REAL, spec.key) if spec.ideal == "match" else None


def rank_key(spec: MetricSpec, mean: float, real: Estimate | None) -> float:
    """Smaller is better: the value (lower), its negative (higher), its distance to the real value (match)."""
    if spec.ideal == "match":
        return abs(mean - real.mean) if real is not None else math.nan
    return -mean if spec.ideal == "higher" else mean
