"""Percentile bootstrap intervals for metrics that are means of per-row scores. The test rows are resampled with
replacement, DRAWS times, with the same draws for every metric scored on the same number of rows: directions
scored on the same test rows stay paired, and a column that averages several directions is resampled as that
average (`interval`). The interval covers the sampling noise of the test rows, not the spread over training
seeds."""
from __future__ import annotations

from collections.abc import Callable
from functools import cache

import torch
from torch import Tensor
from torchmetrics.utilities import dim_zero_cat

from metrics.base import Pooled

DRAWS = 1000
LEVEL = 0.95
SEED = 0


@cache
def draws(n: int, count: int = DRAWS, seed: int = SEED) -> Tensor:
    """(count, n) row indices drawn with replacement, fixed for a given n."""
    return torch.randint(n, (count, n), generator=torch.Generator().manual_seed(seed + n))


class RowMean(Pooled):
    """A Pooled metric whose `row_scores(preds, target)` gives one value per row: compute() is their mean and
    replicates() the means of the bootstrap resamples of the same rows."""

    def __init__(self, row_scores: Callable[[Tensor, Tensor], Tensor]):
        super().__init__(lambda preds, target: row_scores(preds, target).mean())
        self.row_scores = row_scores

    def rows(self) -> Tensor:
        return self.row_scores(dim_zero_cat(self.preds), dim_zero_cat(self.target)).double().cpu()

    def replicates(self) -> Tensor:
        rows = self.rows()
        return rows[draws(len(rows))].mean(1)


def interval(replicates: list[Tensor], level: float = LEVEL) -> tuple[float, float]:
    """The central `level` interval of the mean over parts, each part given by its bootstrap replicates."""
    mean = torch.stack(replicates).mean(0)
    tail = (1.0 - level) / 2
    low, high = torch.quantile(mean, torch.tensor([tail, 1.0 - tail], dtype=mean.dtype))
    return float(low), float(high)
