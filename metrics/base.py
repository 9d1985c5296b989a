"""What every metric declares, the registry `bench list` reads, and the update/compute wrapper suites score with.

Every metric here keeps the rows it was updated with, so that the evaluation engine (tasks/evaluation.py) can
score it again on bootstrap resamples of those rows: `resampled(index)` takes a (replicates, rows) matrix of row
indices and gives one value per replicate. The default recomputes the score on each resample; metrics whose
score decomposes (row means, pairwise matrices) override it with an exact shortcut."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from base.registry import Registry
from base.results import IDEALS


@dataclass(frozen=True)
class MetricInfo:
    name: str
    ideal: str  # lower | higher | match (the real data's value)
    summary: str


METRICS: Registry[MetricInfo] = Registry("metric")


def declare(name: str, ideal: str, summary: str) -> MetricInfo:
    if ideal not in IDEALS:
        raise ValueError(f"metric {name}: ideal must be one of {', '.join(IDEALS)}, not {ideal!r}")
    info = MetricInfo(name, ideal, summary)
    METRICS.register(name)(info)
    return info


class Pooled(Metric):
    """A metric under torchmetrics' update/compute contract that keeps every update's (preds, target) rows and
    scores them together at compute() with `score(preds, target)`. For scores of whole samples (distances
    between distributions) and for any score whose value must not depend on how the rows were chunked."""

    full_state_update = False

    def __init__(self, score: Callable[[Tensor, Tensor], float]):
        super().__init__()
        self.score = score
        self.add_state("preds", default=[], dist_reduce_fx="cat")
        self.add_state("target", default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.preds.append(preds)
        self.target.append(target)

    def pooled(self) -> tuple[Tensor, Tensor]:
        return dim_zero_cat(self.preds), dim_zero_cat(self.target)

    def compute(self) -> float:
        return float(self.score(*self.pooled()))

    def resampled(self, index: Tensor) -> Tensor:
        """The score on each resample: index is (replicates, rows) of row indices into the pooled rows."""
        preds, target = self.pooled()
        index = index.to(preds.device)
        return torch.tensor([float(self.score(preds[i], target[i])) for i in index], dtype=torch.float64)


class RowMean(Pooled):
    """A score that is the mean of one value per row, `row_scores(preds, target)`: its resamples are the means of
    the resampled rows."""

    def __init__(self, row_scores: Callable[[Tensor, Tensor], Tensor]):
        super().__init__(lambda preds, target: row_scores(preds, target).double().mean())
        self.row_scores = row_scores

    def resampled(self, index: Tensor) -> Tensor:
        rows = self.row_scores(*self.pooled()).double().cpu()
        return rows[index.cpu()].mean(1)


class Pairwise(Pooled):
    """A score that compares every prediction with every reference: `matrix(preds, target)` is (n, n) with the
    matching pairs on the diagonal; `indicators(matrix)` are (n, n) 0/1 matrices of what each row counts among its
    candidates (those it beats, those it ties with, ...), and `finish(counts, n)` turns the counts of each row into
    its value (a win-rate, a recall@k). A resample draws the scored rows and their candidates alike: a row's counts
    are then the indicator rows weighted by how often each candidate was drawn, one matrix product per indicator."""

    def __init__(self, matrix: Callable[[Tensor, Tensor], Tensor], indicators: Callable[[Tensor], list[Tensor]],
                 finish: Callable[[list[Tensor], int], Tensor]):
        super().__init__(lambda preds, target: self.weighted(
            self.indicator_matrices(preds, target), torch.ones(1, len(preds), dtype=torch.float64))[0])
        self.matrix, self.indicators, self.finish = matrix, indicators, finish

    def indicator_matrices(self, preds: Tensor, target: Tensor) -> list[Tensor]:
        return [m.double().cpu() for m in self.indicators(self.matrix(preds, target))]

    def weighted(self, indicators: list[Tensor], weights: Tensor) -> Tensor:
        """(replicates,) scores for (replicates, n) draw counts of each row."""
        counts = [weights @ m.T for m in indicators]  # (replicates, n): per row, its drawn candidates counted
        values = self.finish(counts, int(weights[0].sum()))
        return (weights * values).sum(1) / weights.sum(1)

    def resampled(self, index: Tensor) -> Tensor:
        indicators = self.indicator_matrices(*self.pooled())
        n = indicators[0].shape[0]
        weights = torch.zeros(len(index), n, dtype=torch.float64)
        weights.scatter_add_(1, index.cpu(), torch.ones(index.shape, dtype=torch.float64))
        return self.weighted(indicators, weights)
