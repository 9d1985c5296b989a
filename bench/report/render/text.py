"""How a report writes a number, a count and a mark."""
from __future__ import annotations

import math

STALE = "‡"  # marks a row or record made by other code than this checkout's
DASH = "—"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:.4f}"
    return f"{x:.4f}" if abs(x) >= 1e-3 else f"{x:.2e}"


def mean_se(mean: float, se: float | None, pm: str = "±") -> str:
    """The mean to the decimals of its SE, the SE to two significant digits (fmt when there is no SE)."""
    if not se or not math.isfinite(se) or not math.isfinite(mean) or se < 1e-12 * max(1.0, abs(mean)):
        return fmt(mean)  # no noise known, or only the bootstrap's rounding of identical replicates
    decimals = max(0, 1 - math.floor(math.log10(se)))
    return f"{mean:.{decimals}f} {pm} {se:.{decimals}f}"
