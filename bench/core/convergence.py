"""Had a cell settled when its budget ran out? Judged on held-out curves: the quick evaluations at each eighth of
training (bench/run/cell.py: the same test tuples and the same noise at every check, each value with its bootstrap
standard error). A cell is *settled* when, over the last quarter of training, every metric of the quick
evaluation stayed within the half-width of its own 95 % interval (1.96 SE at the last check): more training of
the same kind would move it by less than the quick evaluation can resolve. The training loss's relative slope
over the last fifth stays as a secondary reading (it depends on each loss's offset and scale)."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from metrics.bootstrap import Z95

LAST = 0.25  # the last quarter of training, over which held-out metrics must hold still
WINDOW = 0.2  # the last fifth of training, for the loss trend
SMOOTHING = 0.3  # weight of each new logged loss in the exponential moving average
CONVERGED_BELOW = 0.01  # |relative change of the loss over the window| the loss trend calls flat
SETTLED_RULE = ("over the last quarter of training every held-out metric of the quick evaluation (the same tuples "
                "and noise at every check) stayed within ±1.96 SE of its last value")


def settled(checks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """{"window": [first, last step], "moved": {metric: range over the window}, "half_width": {metric: 1.96 SE},
    "unsettled": [metrics that moved more], "settled": ...}; None without three checks that carry SEs."""
    curve = [c for c in checks if c.get("se")]
    inside = [c for c in curve if c["fraction"] >= 1 - LAST - 1e-9]
    if len(curve) < 3 or len(inside) < 2 or curve[-1]["fraction"] < 1 - 1e-9:
        return None
    moved, half_width = {}, {}
    for key, se in curve[-1]["se"].items():
        values = [c["metrics"].get(key) for c in inside]
        if se is None or not math.isfinite(se) or any(v is None or not math.isfinite(v) for v in values):
            continue
        moved[key], half_width[key] = float(max(values) - min(values)), float(Z95 * se)
    if not moved:
        return None
    unsettled = sorted(k for k in moved if moved[k] > half_width[k])
    return {"window": [inside[0]["step"], inside[-1]["step"]], "moved": moved, "half_width": half_width,
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
