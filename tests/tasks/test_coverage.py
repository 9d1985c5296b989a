"""The coverage of the intervals the reports print (tasks/verdicts.py), simulated the way records are made: a test
set of tuples shared by every seed and method, a training-seed effect, and per-seed noise on each tuple; each
record keeps its value and its bootstrap replicates over the test tuples (the same resamples for every record).
The nominal 95 % interval must cover the true value 92-98 % of the time at 3 and at 5 seeds, whichever of the two
sources dominates, for one row's mean and for a paired difference of two rows."""
import numpy as np
import pytest

from tasks.verdicts import Estimate, compare

TUPLES, RESAMPLES, RUNS = 200, 100, 1500


def records(rng: np.random.Generator, seeds: int, seed_sd: float, tuple_effect: np.ndarray, noise_sd: float,
            index: np.ndarray, mean: float = 1.0) -> Estimate:
    """One row: per seed, the mean loss over the test tuples and its bootstrap replicates."""
    losses = (mean + seed_sd * rng.standard_normal((seeds, 1)) + tuple_effect
              + noise_sd * rng.standard_normal((seeds, TUPLES)))
    return Estimate({s: float(losses[s].mean()) for s in range(seeds)},
                    {s: losses[s][index].mean(1) for s in range(seeds)})


def coverage(seeds: int, seed_sd: float, tuple_sd: float, noise_sd: float, paired: bool) -> float:
    rng = np.random.default_rng(seeds * 1000 + int(100 * seed_sd) + int(10 * tuple_sd))
    hits = 0
    for _ in range(RUNS):
        index = rng.integers(TUPLES, size=(RESAMPLES, TUPLES))
        tuple_effect = tuple_sd * rng.standard_normal(TUPLES)
        a = records(rng, seeds, seed_sd, tuple_effect, noise_sd, index)
        if paired:  # two methods on the same tuples and seeds; the second is worse by 0.3 on average
            b = records(rng, seeds, seed_sd, tuple_effect, noise_sd, index, mean=1.3)
            interval, truth = compare([a, b], lambda x, y: y - x), 0.3
        else:
            interval, truth = compare([a], lambda x: x), 1.0
        hits += interval.low <= truth <= interval.high
    return hits / RUNS


@pytest.mark.parametrize("seeds", [3, 5])
@pytest.mark.parametrize("seed_sd,tuple_sd,noise_sd", [(0.05, 0.1, 0.1),  # the seeds dominate
                                                       (0.01, 0.3, 0.3),  # the tuples dominate
                                                       (0.02, 0.2, 0.2)])  # both count
@pytest.mark.parametrize("paired", [False, True])
def test_the_nominal_95_percent_interval_covers_92_to_98_percent(seeds, seed_sd, tuple_sd, noise_sd, paired):
    found = coverage(seeds, seed_sd, tuple_sd, noise_sd, paired)
    assert 0.92 <= found <= 0.98, found


def test_a_normal_quantile_over_three_seeds_would_undercover():
    """What the t quantile fixes: the same interval with z = 1.96 in place of t at the seeds' degrees of freedom
    covers far less than 95 % when the seeds dominate."""
    rng = np.random.default_rng(0)
    hits = 0
    for _ in range(RUNS):
        index = rng.integers(TUPLES, size=(RESAMPLES, TUPLES))
        row = records(rng, 3, 0.05, 0.01 * rng.standard_normal(TUPLES), 0.01, index)
        interval = compare([row], lambda x: x)
        hits += abs(interval.value - 1.0) <= 1.959964 * interval.se
    assert hits / RUNS < 0.9
