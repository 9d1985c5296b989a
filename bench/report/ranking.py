"""How a report ranks rows on one metric: the best row, the rows tied with it (their paired difference's interval
contains 0), and the real data's value that "match" metrics are ranked against; plus the number format."""
from __future__ import annotations

import math

import numpy as np

from base.results import Row
from tasks.base import MetricSpec
from tasks.verdicts import Estimate, compare, estimate, reference_estimate

STALE = "‡"  # marks a row or record made by other code than this checkout's
REAL = "oracle"  # the reference row whose values are the real data's: what "match" metrics are ranked against


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def summarize(values: list[float] | None) -> tuple[float, float, int] | None:
    if values is None or not values:
        return None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, len(arr)


def fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:.4f}"
    return f"{x:.4f}" if abs(x) >= 1e-3 else f"{x:.2e}"


def real_value(rows: list[Row], spec: MetricSpec) -> Estimate | None:
    """The real data's value of a "match" metric: the oracle reference row's."""
    return reference_estimate(rows, REAL, spec.key) if spec.ideal == "match" else None


def rank_key(spec: MetricSpec, mean: float, real: Estimate | None) -> float:
    """Smaller is better: the value (lower), its negative (higher), its distance to the real value (match)."""
    if spec.ideal == "match":
        return abs(mean - real.mean) if real is not None else math.nan
    return -mean if spec.ideal == "higher" else mean


def best_rows(rows: list[Row], spec: MetricSpec) -> set[int]:
    """The row with the best mean, among the rows at the table's shared settings when there are any (rows set
    apart by --set overrides had another budget or variant, so they do not compete), and the rows tied with it:
    those whose paired difference with it has an interval that contains 0. A "match" metric without a real value
    to match has no best."""
    plain = {i for i, row in enumerate(rows) if not row.overrides} or set(range(len(rows)))
    real = real_value(rows, spec)
    found = {i: e for i, row in enumerate(rows) if i in plain and (e := estimate(row, spec.key)) is not None}
    keys = {i: rank_key(spec, e.mean, real) for i, e in found.items()}
    keys = {i: k for i, k in keys.items() if math.isfinite(k)}
    if not keys:
        return set()
    top = min(keys, key=keys.get)
    best = {i for i, k in keys.items() if k == keys[top]}
    for i in keys:
        if i not in best and tied(found[top], found[i], spec, real):
            best.add(i)
    return best


def tied(a: Estimate, b: Estimate, spec: MetricSpec, real: Estimate | None) -> bool:
    """The paired comparison of a and b is known and its interval contains 0."""
    if spec.ideal == "match":
        interval = compare([a, b, real], lambda x, y, r: np.abs(y - r) - np.abs(x - r))
    else:
        sign = 1.0 if spec.ideal == "higher" else -1.0
        interval = compare([a, b], lambda x, y: sign * (x - y))
    return interval.known and interval.decide() is None
