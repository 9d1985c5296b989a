"""Is a verdict the objectives' or the budget's? Every finding and every adjacent pair of a column is decided again at
three rungs of training: three quarters of the budget (the test evaluation each cell records at eval.rung, as it
stood at that step: bench/run/cell.py), the budget itself (the table), and twice the budget (the committed `--set
train.steps=2N` run of one seed per method). A verdict is *budget-stable* when it is the same at every rung that has
numbers, and *budget-dependent* otherwise, with the way it moves. At 3/4 the rows keep their seeds; at 2× they have
the 2× run's seed, and the pairs are compared on it."""
from __future__ import annotations

from dataclasses import dataclass, replace

from base.results import Row
from tasks.base import MetricSpec
from tasks.findings import NOT_CHECKED, Finding
from tasks.verdicts import Estimate, advantage, estimate

BUDGET = "1×"  # the rung of the table itself
REFERENCE = "reference:"


@dataclass
class Rung:
    label: str  # the share of the budget, e.g. "0.75×", "1×", "2×"
    rows: list[Row]  # one per method, as plain rows
    steps: int | None  # training steps at this rung (the mean over the rows' records)


def rung_record(record, fraction: float):
    """A record as it stood at an earlier rung: its test metrics there, with the final evaluation's reference rows
    (the same test tuples, resamples and seeds: a reference row does not depend on training)."""
    found = next((r for r in record.rungs if abs(r["fraction"] - fraction) < 1e-9), None)
    if found is None:
        return None
    references = {k: v for k, v in record.metrics.items() if k.startswith(REFERENCE)}
    return replace(record, metrics={**found["metrics"], **references})


def earlier(rows: list[Row], fraction: float) -> list[Row]:
    """The rows at an earlier rung: each record replaced by its state there (rows whose records lack it are out)."""
    out = []
    for row in rows:
        records = [rung_record(r, fraction) for r in row.records]
        if records and all(r is not None for r in records):
            out.append(replace(row, records=records, failed=[]))
    return out


def doubled(rows: list[Row], plain: list[Row]) -> list[Row]:
    """The rows of the `--set train.steps=2N` variant (N the plain rows' steps), as plain rows."""
    steps = {r.config["train"]["steps"] for row in plain for r in row.records}
    if len(steps) != 1 or any(r.config["train"].get("budget", "steps") != "steps" for row in plain
                              for r in row.records):
        return []
    wanted = [f"train.steps={2 * next(iter(steps))}"]
    return [replace(row, overrides=[]) for row in rows if row.overrides == wanted and row.records]


def ladder(rows: list[Row], plain: list[Row]) -> list[Rung]:
    """The rungs that have rows: the earlier rung the plain rows' records kept, the plain rows, the 2× variant."""
    fractions = {r["fraction"] for row in plain for rec in row.records for r in rec.rungs}
    out = []
    if fractions:
        fraction = min(fractions)
        out.append(Rung(f"{fraction:g}×", earlier(plain, fraction), mean_steps(plain, fraction)))
    out.append(Rung(BUDGET, plain, mean_steps(plain)))
    twice = doubled(rows, plain)
    if twice:
        out.append(Rung("2×", twice, mean_steps(twice)))
    return [r for r in out if r.rows]


def mean_steps(rows: list[Row], fraction: float | None = None) -> int | None:
    """The rows' training steps at a rung (their records' mean): the end of training, or the earlier rung's step."""
    steps = [r["step"] for row in rows for rec in row.records for r in rec.rungs if r["fraction"] == fraction]
    if fraction is None:
        steps = [rec.train.get("steps") for row in rows for rec in row.records if rec.train.get("steps")]
    return round(sum(steps) / len(steps)) if steps else None


@dataclass(frozen=True)
class Stability:
    """One verdict across the rungs."""

    by_rung: dict[str, str]  # rung label -> the verdict there, at the rungs that could check it
    unchecked: tuple[str, ...] = ()  # rungs whose rows cannot check it (e.g. a 2× run of only some methods)

    @property
    def stable(self) -> bool | None:
        """True when the same at every rung with numbers, False when it moves, None with one rung only."""
        if len(self.by_rung) < 2:
            return None
        return len(set(self.by_rung.values())) == 1

    def describe(self) -> str:
        missing = f"; not checked at {', '.join(self.unchecked)}" if self.unchecked else ""
        if self.stable is None:
            return "one budget only" + missing
        if self.stable:
            return f"budget-stable ({', '.join(self.by_rung)})" + missing
        return "budget-dependent: " + " → ".join(f"{verdict} at {rung}" for rung, verdict in self.by_rung.items()) \
            + missing


def finding_stability(suite_cls, rungs: list[Rung]) -> tuple[list[tuple[Finding, Stability]], list[Finding]]:
    """The suite's claims at the budget (1×), each with its verdict at every rung (claims come in the same order at
    every rung), and its notes at the budget."""
    at = {rung.label: suite_cls.findings(rung.rows) for rung in rungs}
    main = at.get(BUDGET, [])
    claims = {label: [f for f in found if f.is_claim] for label, found in at.items()}
    out = []
    for i, finding in enumerate(claims.get(BUDGET, [])):
        verdicts = {label: fs[i].verdict for label, fs in claims.items()
                    if i < len(fs) and fs[i].claim == finding.claim}
        unchecked = tuple(label for label, verdict in verdicts.items() if verdict == NOT_CHECKED)
        checked = {label: verdict for label, verdict in verdicts.items() if verdict != NOT_CHECKED}
        out.append((replace(finding, rung=BUDGET), Stability(checked, unchecked)))
    return out, [f for f in main if not f.is_claim]


@dataclass(frozen=True)
class Pair:
    """Two rows adjacent in a column's order at the budget, and who is better at each rung."""

    metric: str
    better: str  # the row ahead at the budget
    worse: str
    stability: Stability


def decision(a: Estimate | None, b: Estimate | None, spec: MetricSpec, real: Estimate | None) -> str:
    gap = None if a is None or b is None else advantage(a, b, spec.ideal, real)
    found = None if gap is None else gap.decide()
    return "ahead" if found is True else "behind" if found is False else "tie"


def adjacent_pairs(rungs: list[Rung], specs: list[MetricSpec], real: dict[str, Estimate | None]) -> list[Pair]:
    """Per column, the rows in order of their mean at the budget, each adjacent pair decided at every rung (the
    first row ahead, behind, or tied with the second)."""
    main = next((r for r in rungs if r.label == BUDGET), None)
    if main is None:
        return []
    out = []
    for spec in specs:
        found = {row.method: e for row in main.rows if (e := estimate(row, spec.key)) is not None}
        order = sorted(found, key=lambda m: order_key(found[m], spec, real.get(spec.key)))
        for first, second in zip(order, order[1:]):
            verdicts = {}
            for rung in rungs:
                rows = {row.method: row for row in rung.rows}
                if first in rows and second in rows:
                    verdicts[rung.label] = decision(estimate(rows[first], spec.key), estimate(rows[second], spec.key),
                                                    spec, real.get(spec.key))
            out.append(Pair(spec.key, first, second, Stability(verdicts)))
    return out


def order_key(found: Estimate, spec: MetricSpec, real: Estimate | None) -> float:
    if spec.ideal == "match":
        return abs(found.mean - real.mean) if real is not None else 0.0
    return -found.mean if spec.ideal == "higher" else found.mean
