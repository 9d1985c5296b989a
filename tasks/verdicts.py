"""Deciding a comparison under noise, shared by the suites' findings and the reports' ranks and ties.

A row's value of a metric is its mean over seeds. Its uncertainty combines two levels: the seeds (training runs)
and, within each seed's record, the bootstrap replicates over the test tuples (tasks/evaluation.py). A two-level
bootstrap draws the seeds with replacement and one tuple resample b, and averages replicate b of the drawn seeds.
Every estimate in one comparison uses the same b in a draw (the tuple resamples are the same for every method on
the same test tuples: paired), and rows run with the same seeds draw the same seeds (a seed fixes the data order
and the evaluation noise for every method alike: common random numbers). A comparison is a function of the
estimates — a difference, a ratio threshold, a distance to the real value — computed on every draw; its interval
is the point value ± 1.96 standard deviations of those draws. "A beats B" holds when the interval of A − B
excludes 0; when it contains 0 it is a tie (None). No floor is used as a margin. The paper's numbers have no
spread and are compared exactly. With one seed the interval covers the evaluation's sampling noise only."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from metrics.bootstrap import Z95

if TYPE_CHECKING:
    from base.results import Row

DRAWS = 2000  # two-level bootstrap draws per comparison
SEED = 0


@dataclass(frozen=True)
class Estimate:
    """One row's value of one metric: per seed, the record's value and its bootstrap replicates (None where the
    record keeps none). `exact`: a published number with no spread."""

    values: dict[int, float]
    replicates: dict[int, np.ndarray] | None = None
    exact: bool = False

    @property
    def mean(self) -> float:
        return float(np.mean(list(self.values.values())))

    @property
    def seeds(self) -> int:
        return len(self.values)

    @property
    def sd(self) -> float:
        """The spread over seeds (sample standard deviation; 0 for one seed)."""
        return float(np.std(list(self.values.values()), ddof=1)) if self.seeds > 1 else 0.0

    @property
    def uncertain(self) -> bool:
        """Whether anything is known of its noise (replicates, or at least two seeds)."""
        return not self.exact and (self.replicates is not None or self.seeds > 1)

    @property
    def se(self) -> float | None:
        """The two-level bootstrap standard error of the mean over seeds; None when nothing is known of its noise."""
        if self.exact:
            return 0.0
        if not self.uncertain:
            return None
        (draws,) = joint_draws([self])
        return float(np.std(draws, ddof=1))


def exact(value: float) -> Estimate:
    return Estimate({0: float(value)}, exact=True)


def from_results(results: dict[int, dict] | None) -> Estimate | None:
    """An estimate from seed -> metric entry of records (value, replicates); None when there are none."""
    if not results:
        return None
    values = {int(s): float(r["value"]) for s, r in results.items()}
    reps = [r.get("replicates") for r in results.values()]
    if any(not rep for rep in reps) or len({len(rep) for rep in reps}) > 1:
        return Estimate(values)
    return Estimate(values, {int(s): np.asarray(r["replicates"], dtype=float) for s, r in results.items()})


def estimate(row: Row, key: str) -> Estimate | None:
    """A report row's estimate of one metric; None when it has no value (or does not support the metric)."""
    return from_results(row.results(key))


def reference_estimate(rows: Iterable[Row], name: str, key: str) -> Estimate | None:
    """A reference row's estimate ("reference:<name>/<key>" in the records; the same in every record, since it
    depends on neither the method nor the seed), from the first record that has it."""
    for row in rows:
        for record in row.records:
            found = record.metrics.get(f"reference:{name}/{key}")
            if found and found.get("value") is not None:
                return from_results({0: found})
    return None


def joint_draws(estimates: Sequence[Estimate], count: int = DRAWS) -> list[np.ndarray]:
    """Two-level bootstrap draws of each estimate's mean over seeds, paired across the estimates (the same tuple
    resample in a draw; the same seeds drawn for estimates with the same seed numbers)."""
    rng = np.random.default_rng(SEED)
    with_reps = [e.replicates for e in estimates if e.replicates is not None]
    resamples = min((len(next(iter(r.values()))) for r in with_reps), default=0)
    b = np.arange(count) % resamples if resamples else None
    picks: dict[tuple[int, ...], np.ndarray] = {}
    out = []
    for e in estimates:
        seeds = tuple(sorted(e.values))
        if e.exact:
            out.append(np.full(count, e.mean))
            continue
        if seeds not in picks:
            picks[seeds] = rng.integers(len(seeds), size=(count, len(seeds)))
        chosen = picks[seeds]  # (count, seeds drawn): positions in `seeds`
        if e.replicates is not None and b is not None:
            table = np.stack([e.replicates[s][:resamples] for s in seeds])  # (seeds, resamples)
            values = table[chosen, b[:, None]]
        else:
            values = np.asarray([e.values[s] for s in seeds])[chosen]
        out.append(values.mean(1))
    return out


@dataclass(frozen=True)
class Interval:
    value: float
    low: float
    high: float
    known: bool = True  # False: nothing is known of the noise (one seed and no replicates)

    @property
    def se(self) -> float:
        return (self.high - self.low) / (2 * Z95)

    def decide(self) -> bool | None:
        """True when above 0 beyond the noise, False when below it, None (a tie) when the interval contains 0."""
        if not self.known:
            return None
        return True if self.low > 0 else False if self.high < 0 else None


def compare(estimates: Sequence[Estimate], statistic: Callable[..., float | np.ndarray]) -> Interval:
    """The interval of statistic(*estimates) (applied to the point values and to every paired draw)."""
    value = float(statistic(*[e.mean for e in estimates]))
    if all(e.exact for e in estimates):
        return Interval(value, value, value)
    if not all(e.uncertain or e.exact for e in estimates):
        return Interval(value, value, value, known=False)
    draws = statistic(*joint_draws(estimates))
    half = Z95 * float(np.std(draws, ddof=1))
    return Interval(value, value - half, value + half)


def above(a: Estimate, b: Estimate, margin: float = 0.0) -> bool | None:
    """Is a > b + margin? None (a tie) when the interval of a − b − margin contains 0."""
    return compare([a, b], lambda x, y: x - y - margin).decide()


def below(a: Estimate, b: Estimate, factor: float = 1.0) -> bool | None:
    """Is a < factor·b? None (a tie) when the interval of factor·b − a contains 0 (a ratio threshold: whether
    factor·b − a excludes 0)."""
    return compare([a, b], lambda x, y: factor * y - x).decide()


def closer(a: Estimate, b: Estimate, real: Estimate) -> bool | None:
    """Is a closer than b to the real value (metrics whose ideal is "match")?"""
    return compare([a, b, real], lambda x, y, r: np.abs(y - r) - np.abs(x - r)).decide()


def better(a: Estimate, b: Estimate, ideal: str, real: Estimate | None = None) -> bool | None:
    """Is a better than b on a metric with this ideal? None: a tie, or ("match") no real value to match."""
    if ideal == "higher":
        return above(a, b)
    if ideal == "lower":
        return below(a, b)
    return None if real is None else closer(a, b, real)


def all_of(results: Iterable[bool | None]) -> bool | None:
    """False if any comparison fails, else None if any is a tie, else True."""
    results = list(results)
    return False if False in results else None if None in results else True
