"""What every metric declares, the registry `bench list` reads, and the update/compute wrapper suites score with."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities import dim_zero_cat

from base.registry import Registry


@dataclass(frozen=True)
class MetricInfo:
    name: str
    higher_is_better: bool
    summary: str


METRICS: Registry[MetricInfo] = Registry("metric")


def declare(name: str, higher_is_better: bool, summary: str) -> MetricInfo:
    info = MetricInfo(name, higher_is_better, summary)
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

    def compute(self) -> float:
        return float(self.score(dim_zero_cat(self.preds), dim_zero_cat(self.target)))
