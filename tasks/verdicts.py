"""Deciding a comparison under noise, shared by the suites' findings: a gap inside its noise is a tie (None)."""
from __future__ import annotations

from collections.abc import Iterable


def decide(gap: float, noise: float) -> bool | None:
    """True when gap > 0 beyond the noise, False when gap < 0 beyond it, None (a tie) when |gap| <= noise."""
    if abs(gap) <= noise and noise > 0:
        return None
    return gap > 0


def all_of(results: Iterable[bool | None]) -> bool | None:
    """False if any comparison fails, else None if any is a tie, else True."""
    results = list(results)
    return False if False in results else None if None in results else True
