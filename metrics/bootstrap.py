"""The resamples of the tuple bootstrap and what is read from them. The test tuples are drawn with replacement,
`count` times, from a generator seeded by their number alone: every method (and every reference row) scored on
the same test tuples gets the same resamples, so replicate b of two methods can be subtracted (a paired
difference). The standard error is the replicates' standard deviation, and the 95% interval is the value ± 1.96
standard errors. Not the replicates' percentiles: distances between sample sets (sliced Wasserstein, Fréchet)
grow when a resample repeats tuples, so their replicates sit above the value although their spread measures its
noise well (tests/metrics/test_bootstrap.py); the interval is centred on the value for every metric alike. A set
distance also carries a finite-sample bias that no interval around it contains: the real-vs-real reference row
shows its size at the same n."""
from __future__ import annotations

from functools import cache

import torch
from torch import Tensor

Z95 = 1.959963984540054  # the normal 97.5% quantile
SEED = 0


@cache
def draws(n: int, count: int, seed: int = SEED) -> Tensor:
    """(count, n) tuple indices drawn with replacement, fixed for a given n and count."""
    return torch.randint(n, (count, n), generator=torch.Generator().manual_seed(seed + n))


def row_index(tuples: Tensor, rows_per_tuple: int) -> Tensor:
    """Tuple indices (count, n) as the indices of their rows, where each tuple has `rows_per_tuple` consecutive
    rows (several draws for one source): (count, n · rows_per_tuple)."""
    if rows_per_tuple == 1:
        return tuples
    return (tuples[..., None] * rows_per_tuple + torch.arange(rows_per_tuple)).flatten(1)


def standard_error(replicates: Tensor) -> float:
    return float(replicates.double().std(unbiased=True)) if len(replicates) > 1 else 0.0


def interval(value: float, se: float) -> tuple[float, float]:
    """The 95% normal interval around a value with its bootstrap standard error."""
    return value - Z95 * se, value + Z95 * se
