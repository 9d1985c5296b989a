"""Had a cell settled when its budget ran out? Judged on held-out curves: the quick evaluations at each eighth of
training (bench/run/cell.py: the same validation tuples and the same noise at every check), each with the oracle
reference row's value on the same tuples — the ideal at that sample size, so a set distance's finite-sample bias
cancels in the distance to it. A cell is *settled* when, over the last quarter of training, every headline metric's
distance to its ideal changed by less than a fixed share of itself (TOLERANCE): a threshold that does not shrink as
the quick evaluation grows, and that a biased estimate cannot pass by construction. Records whose checks read test
tuples without the oracle's value (before validation splits) are not judged. The training loss's relative slope over
the last fifth stays as a secondary reading (it depends on each loss's offset and scale)."""
from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import numpy as np

LAST = 0.25  # the last quarter of training, over which held-out metrics must hold still
TOLERANCE = 0.05  # the largest relative change of a distance to the ideal over the last quarter that still settles
WINDOW = 0.2  # the last fifth of training, for the loss trend
SMOOTHING = 0.3  # weight of each new logged loss in the exponential moving average
CONVERGED_BELOW = 0.01  # |relative change of the loss over the window| the loss trend calls flat
SETTLED_RULE = (f"over the last quarter of training every headline metric's distance to its ideal (the oracle "
                f"row's value on the same validation tuples) changed by less than {TOLERANCE:.0%} of itself")


def distance(check: dict[str, Any], key: str) -> float | None:
    """A check's distance to the ideal on one metric: |value − the oracle's value on the same tuples|."""
    value, oracle = check["metrics"].get(key), (check.get("oracle") or {}).get(key)
    if value is None or oracle is None or not (math.isfinite(value) and math.isfinite(oracle)):
        return None
    return abs(value - oracle)


def settled(checks: list[dict[str, Any]], keys: Iterable[str] | None = None) -> dict[str, Any] | None:
    """{"window": [first, last step], "change": {metric: relative change of its distance to the ideal},
    "distance": {metric: [first, last]}, "unsettled": [metrics that changed by TOLERANCE or more], "settled": ...}
    over the headline metrics `keys` (every metric with an oracle value when None); None without validation checks
    that reach the end of training."""
    curve = [c for c in checks if c.get("split") == "validation" and c.get("oracle")]
    inside = [c for c in curve if c["fraction"] >= 1 - LAST - 1e-9]
    if len(inside) < 2 or curve[-1]["fraction"] < 1 - 1e-9:
        return None
    first, last = inside[0], inside[-1]
    change, span = {}, {}
    for key in keys if keys is not None else last["oracle"]:
        before, after = distance(first, key), distance(last, key)
        if before is None or after is None:
            continue
        span[key] = [before, after]
        change[key] = 0.0 if before == after else abs(after - before) / before if before > 0 else math.inf
    if not change:
        return None
    unsettled = sorted(k for k, c in change.items() if c >= TOLERANCE)
    return {"window": [first["step"], last["step"]], "change": change, "distance": span,
            "unsettled": unsettled, "settled": not unsettled}


def smoothed(losses: np.ndarray, weight: float = SMOOTHING) -> np.ndarray:
    out = np.empty_like(losses)
    level = losses[0]
    for i, loss in enumerate(losses):
        level = weight * loss + (1 - weight) * level
        out[i] = level
    return out


def loss_trend(curve: list[list[float]]) -> dict[str, Any] | None:
    """{"window": [first, last step], "relative_change": ..., "converged": ...}; None with too few points."""
    if len(curve) < 5:
        return None
    steps, losses = np.asarray(curve, dtype=float).T
    level = smoothed(losses)
    inside = steps >= steps[-1] - WINDOW * steps[-1]
    if inside.sum() < 3:
        inside[-3:] = True
    slope = np.polyfit(steps[inside], level[inside], 1)[0]
    span = steps[inside][-1] - steps[inside][0]
    scale = abs(level[inside].mean())
    change = float(slope * span / scale) if scale > 0 else 0.0
    return {"window": [int(steps[inside][0]), int(steps[inside][-1])], "relative_change": change,
            "converged": abs(change) < CONVERGED_BELOW, "threshold": CONVERGED_BELOW}
