"""Was a cell still improving when its budget ran out? The relative slope of its smoothed training loss over the
last fifth of training: a line fitted to the exponentially smoothed logged losses in that window, its change
across the window divided by the window's mean loss. A cell whose loss moved by less than CONVERGED_BELOW is
called converged (at this budget)."""
from __future__ import annotations

from typing import Any

import numpy as np

WINDOW = 0.2  # the last fifth of training
SMOOTHING = 0.3  # weight of each new logged loss in the exponential moving average
CONVERGED_BELOW = 0.01  # |relative change over the window| under which a cell counts as converged


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
