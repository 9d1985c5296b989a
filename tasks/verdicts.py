"""Deciding a comparison under noise, shared by the suites' findings and the reports' ranks and ties.

A row's value of a metric is its mean over seeds (training runs). Its noise has two sources: the seeds, and the test
tuples, which every seed and every method shares (the records keep each value's bootstrap replicates over the test
tuples, drawn with the same resamples for every method: tasks/evaluation.py). A comparison is a function of the rows'
means — a difference, a ratio threshold, a distance to the real value — and its standard error adds the two:

- tuples: the statistic recomputed on each bootstrap resample b, every row's replicate b averaged over its seeds
  (paired: one resample for all rows);
- seeds: the statistic computed seed by seed on the seeds every compared row has (paired: a seed fixes the data
  order and the evaluation noise for every method alike), its sample variance over those seeds divided by their
  number — the unbiased estimate, where a bootstrap over three seeds would shrink it by √(2/3).

Its interval is the value ± t·SE with t the Student quantile at the Welch–Satterthwaite degrees of freedom of that
sum (the seeds' part has n − 1, the tuples' part, over thousands of tuples, is taken as exact), so with few seeds the
interval widens as it must: tests/tasks/test_coverage.py simulates its coverage at 3 and 5 seeds. Rows run on other
seeds are compared on the seeds they share; a row without seeds in common with another is compared unpaired (the
seeds' variances add). A reference row (the same for every seed) and a published number (no spread) enter as
constants of the seed level. "A beats B" holds when the interval of A − B excludes 0; when it contains 0 it is a
tie (None). Across a column's many pairs the error is controlled by Holm's step-down procedure (`holm`). No floor is
used as a margin. With one seed the interval covers the evaluation's sampling noise only."""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from scipy import stats

if TYPE_CHECKING:
    from base.results import Row

LEVEL = 0.05  # the error rate of one decision, and of a column's decisions together (Holm)


@dataclass(frozen=True)
class Estimate:
    """One row's value of one metric: per seed, the record's value and its bootstrap replicates over the test tuples
    (None where the record keeps none). `exact`: a published number with no spread. `seed_free`: the same whatever
    the seed (a reference row)."""

    values: dict[int, float]
    replicates: dict[int, np.ndarray] | None = None
    exact: bool = False
    seed_free: bool = False

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
        """The standard error of the mean over seeds (seeds and test tuples); None when nothing is known of its
        noise."""
        if self.exact:
            return 0.0
        if not self.uncertain:
            return None
        return compare([self], lambda x: x).se

    @property
    def interval(self) -> Interval | None:
        """The mean with its standard error and t degrees of freedom (`low`, `high`: the 95 % interval); None when
        nothing is known of its noise."""
        if self.exact:
            return Interval(self.mean)
        return compare([self], lambda x: x) if self.uncertain else None

    def on(self, seeds: Iterable[int]) -> Estimate:
        """The estimate restricted to these seeds (a constant is the same on any)."""
        if self.exact or self.seed_free:
            return self
        keep = [s for s in self.values if s in set(seeds)]
        return replace(self, values={s: self.values[s] for s in keep},
                       replicates=None if self.replicates is None else {s: self.replicates[s] for s in keep})


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
                return replace(from_results({0: found}), seed_free=True)
    return None


REAL = "oracle"  # the reference row whose values are the real data's: what "match" metrics are ranked against


def real_value(rows: Iterable[Row], spec) -> Estimate | None:
    """The real data's value of a "match" metric (`spec`, a MetricSpec): the oracle reference row's."""
    return reference_estimate(rows, REAL, spec.key) if spec.ideal == "match" else None


@dataclass(frozen=True)
class Interval:
    """A statistic's value with its standard error and degrees of freedom (inf: normal)."""

    value: float
    se: float = 0.0
    df: float = math.inf
    known: bool = True  # False: nothing is known of the noise (one seed and no replicates)

    def half_width(self, level: float = LEVEL) -> float:
        return float(stats.t.ppf(1 - level / 2, self.df)) * self.se if self.se > 0 else 0.0

    @property
    def low(self) -> float:
        return self.value - self.half_width()

    @property
    def high(self) -> float:
        return self.value + self.half_width()

    @property
    def p_value(self) -> float:
        """Two-sided p-value of "the statistic is 0" (1 when nothing is known; 0 for a non-zero exact value)."""
        if not self.known:
            return 1.0
        if self.se == 0:
            return 0.0 if self.value != 0 else 1.0
        return float(2 * stats.t.sf(abs(self.value) / self.se, self.df))

    def decide(self, level: float = LEVEL) -> bool | None:
        """True when above 0 beyond the noise, False when below it, None (a tie) when the interval contains 0."""
        if not self.known or self.p_value > level:
            return None
        return self.value > 0


def common_seeds(estimates: Sequence[Estimate]) -> list[int] | None:
    """The seeds every seeded estimate has (sorted), or None when they share none (compared unpaired)."""
    seeded = [set(e.values) for e in estimates if not (e.exact or e.seed_free)]
    if not seeded:
        return [0]
    shared = set.intersection(*seeded)
    return sorted(shared) if shared else None


def per_seed(estimate: Estimate, seed: int, resamples: int | None) -> float | np.ndarray:
    """An estimate's value at one seed, or (resamples given) its replicates there: a constant is the same at every
    seed, and without replicates it stays its value on every resample."""
    if estimate.exact or (estimate.seed_free and estimate.replicates is None):
        return estimate.mean if resamples is None else np.full(resamples, estimate.mean)
    at = next(iter(estimate.values)) if estimate.seed_free else seed
    if resamples is None:
        return estimate.values[at]
    if estimate.replicates is None:
        return np.full(resamples, estimate.values[at])
    return estimate.replicates[at][:resamples]


def paired_variance(estimates: Sequence[Estimate], statistic: Callable[..., float | np.ndarray], seeds: list[int]
                    ) -> tuple[float, float]:
    """(the variance of the statistic's mean over these seeds, the degrees of freedom of its seed part), paired: the
    statistic seed by seed gives the seeds' part (its sample variance over n seeds, divided by n), and its
    replicates seed by seed give the tuples' part shared by all seeds (the mean covariance between two seeds'
    replicates: the per-seed share of the tuple noise is already in the seeds' part). With one seed the tuple noise
    is all there is to measure."""
    reps = [len(r) for e in estimates if e.replicates is not None and not e.exact for r in e.replicates.values()]
    count = min(reps, default=0)
    table = (np.stack([np.asarray(statistic(*[per_seed(e, s, count) for e in estimates]), dtype=float)
                       for s in seeds]) if count > 1 else None)  # (seeds, resamples)
    n = len(seeds)
    if n < 2:
        return (float(np.var(table[0], ddof=1)) if table is not None else 0.0), math.inf
    points = [float(statistic(*[per_seed(e, s, None) for e in estimates])) for s in seeds]
    between = float(np.var(points, ddof=1)) / n
    shared = 0.0
    if table is not None:
        covariance = np.cov(table)
        shared = max(0.0, float((covariance.sum() - np.trace(covariance)) / (n * (n - 1))))
    return between + shared, (n - 1.0) * ((between + shared) / between) ** 2 if between > 0 else math.inf


def unpaired_variance(estimates: Sequence[Estimate], statistic: Callable[..., float | np.ndarray]
                      ) -> tuple[float, float]:
    """(variance, degrees of freedom) for estimates without a seed in common: the tuples' part from the replicates
    of each estimate's mean over its seeds, plus each estimate's seed variance carried through the statistic's
    slope (Welch–Satterthwaite)."""
    reps = [len(r) for e in estimates if e.replicates is not None and not e.exact for r in e.replicates.values()]
    count = min(reps, default=0)
    tuples = 0.0
    if count > 1:
        args = [np.mean([per_seed(e, s, count) for s in e.values], axis=0) for e in estimates]
        tuples = float(np.var(statistic(*args), ddof=1))
    means = [e.mean for e in estimates]
    parts, dfs = [], []
    for i, e in enumerate(estimates):
        if e.exact or e.seed_free or e.seeds < 2:
            continue
        step = 1e-6 * max(abs(means[i]), 1e-12)
        moved = list(means)
        moved[i] += step
        slope = (float(statistic(*moved)) - float(statistic(*means))) / step
        parts.append(slope ** 2 * e.sd ** 2 / e.seeds)
        dfs.append(e.seeds - 1.0)
    seeds = sum(parts)
    if seeds == 0:
        return tuples, math.inf
    return tuples + seeds, (tuples + seeds) ** 2 / sum(p ** 2 / d for p, d in zip(parts, dfs))


def compare(estimates: Sequence[Estimate], statistic: Callable[..., float | np.ndarray]) -> Interval:
    """The interval of statistic(*estimates): its value on the means over the seeds the estimates share (all their
    seeds when they share none), its SE from the seeds and the test tuples, with the Welch–Satterthwaite degrees of
    freedom."""
    shared = common_seeds(estimates)
    if shared is not None:
        estimates = [e.on(shared) for e in estimates]
    value = float(statistic(*[e.mean for e in estimates]))
    if all(e.exact for e in estimates):
        return Interval(value)
    if not all(e.uncertain or e.exact or e.seed_free for e in estimates) or not any(e.uncertain for e in estimates):
        return Interval(value, known=False)
    variance, df = (paired_variance(estimates, statistic, shared) if shared is not None
                    else unpaired_variance(estimates, statistic))
    return Interval(value, math.sqrt(variance), df)


def holm(p_values: Sequence[float], level: float = LEVEL) -> list[bool]:
    """Which hypotheses Holm's step-down procedure rejects at family-wise error `level`."""
    order = np.argsort(p_values)
    rejected = [False] * len(p_values)
    for rank, i in enumerate(order):
        if p_values[i] > level / (len(p_values) - rank):
            break
        rejected[i] = True
    return rejected


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


def advantage(a: Estimate, b: Estimate, ideal: str, real: Estimate | None = None) -> Interval | None:
    """The interval of how much better a is than b on a metric with this ideal (positive: a is better); None for a
    "match" metric without a real value to match."""
    if ideal == "higher":
        return compare([a, b], lambda x, y: x - y)
    if ideal == "lower":
        return compare([a, b], lambda x, y: y - x)
    return None if real is None else compare([a, b, real], lambda x, y, r: np.abs(y - r) - np.abs(x - r))


def better(a: Estimate, b: Estimate, ideal: str, real: Estimate | None = None) -> bool | None:
    """Is a better than b on a metric with this ideal? None: a tie, or ("match") no real value to match."""
    found = advantage(a, b, ideal, real)
    return None if found is None else found.decide()


def all_of(results: Iterable[bool | None]) -> bool | None:
    """False if any comparison fails, else None if any is a tie, else True."""
    results = list(results)
    return False if False in results else None if None in results else True
