"""A paper's finding, checked on a table, as data: the claim, its verdict, the numbers it rests on (ours with their
standard errors, the paper's exact), and what qualifies it. Every suite's findings module returns these; reports
render them and the index counts their verdicts, so nothing reads a verdict back out of text. The report sets
where the verdict was taken (the budget rung) and at which settings (tuned or shared)."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tasks.verdicts import Estimate, advantage

REPRODUCED, NOT_REPRODUCED, UNDECIDED = "reproduced", "not reproduced", "undecided"
NOT_TESTABLE, NOT_CHECKED, NOTE = "not testable", "not checked", "note"
CLAIMS = (REPRODUCED, NOT_REPRODUCED, UNDECIDED, NOT_TESTABLE, NOT_CHECKED)  # what a claim's verdict can be
DECIDED = {True: REPRODUCED, False: NOT_REPRODUCED, None: UNDECIDED}
DECIDED_VERDICTS = frozenset(DECIDED.values())  # the verdicts of a claim the numbers could test


@dataclass(frozen=True)
class Number:
    """One number a finding rests on: a method's value of a metric, with its standard error (None: exact)."""

    method: str
    metric: str  # how the finding names the metric, e.g. "coherence"
    mean: float
    se: float | None = None
    role: str = ""  # "" (the claim's own), "best other", "tied with the best other", ...

    @staticmethod
    def of(method: str, metric: str, estimate: Estimate, role: str = "") -> Number:
        return Number(method, metric, estimate.mean, None if estimate.exact else estimate.se, role)


@dataclass(frozen=True)
class Finding:
    claim: str
    verdict: str  # one of CLAIMS, or NOTE for a line of context that is not a claim
    ours: tuple[Number, ...] = ()
    paper: tuple[Number, ...] = ()
    caveat: str = ""  # what qualifies the verdict (why it was not testable, what it does not cover)
    rung: str = ""  # the budget it was decided at (set by the report: "3/4", "1×", "2×")
    tuning: str = ""  # the settings it was decided at (set by the report: "tuned", "shared")

    @property
    def is_claim(self) -> bool:
        return self.verdict != NOTE


def note(text: str) -> Finding:
    return Finding(text, NOTE)


def decided(claim: str, holds: bool | None, ours: Iterable[Number] = (), paper: Iterable[Number] = (),
            caveat: str = "") -> Finding:
    """A claim whose comparisons gave `holds`: reproduced (True), not reproduced (False), undecided (None: a paired
    difference's interval contains 0)."""
    return Finding(claim, DECIDED[holds], tuple(ours), tuple(paper), caveat)


def best_and_ties(estimates: dict[str, Estimate], ideal: str) -> tuple[str, list[str]]:
    """The method with the best mean, and the others its paired comparison does not separate from it (ties)."""
    order = sorted(estimates, key=lambda m: -estimates[m].mean if ideal == "higher" else estimates[m].mean)
    best = order[0]
    tied = [m for m in order[1:] if (gap := advantage(estimates[best], estimates[m], ideal)) is None
            or gap.decide() is not True]
    return best, tied
