"""Sliced Wasserstein distance (POT) with fixed projections, so every method is scored on the same slices."""
from __future__ import annotations

import numpy as np
import ot
import torch
from torch import Tensor

from metrics.base import Pooled, declare

INFO = declare("sliced_wasserstein", "lower", "SW2 distance between generated and real samples (fixed projections)")


class SlicedWasserstein:
    """SW2 = sqrt(mean over projections of W2² of the 1-d projections) on `n_projections` fixed directions."""

    def __init__(self, dim: int, n_projections: int = 128, seed: int = 0):
        self.projections = ot.sliced.get_random_projections(dim, n_projections, seed=seed)

    def __call__(self, generated, real) -> float:
        x = np.asarray(torch.as_tensor(generated).cpu(), dtype=np.float64)
        y = np.asarray(torch.as_tensor(real).cpu(), dtype=np.float64)
        if x.shape[1] != self.projections.shape[0] or y.shape[1] != self.projections.shape[0]:
            raise ValueError(f"expected {self.projections.shape[0]}-dimensional samples, got {x.shape} and {y.shape}")
        return float(ot.sliced_wasserstein_distance(x, y, projections=self.projections, p=2))


class SlicedWassersteinMetric(Pooled):
    """SW2 between the generated rows (preds) and the real rows (target) as a metric. Its resamples project both
    sets once on the same fixed directions and, per resample, sort the resampled projections: with equal sizes
    and weights, W2² of two 1-d samples is the mean squared difference of their sorted values, which is what
    POT computes (checked in tests/metrics/test_metrics.py), at a fraction of the cost of calling it again."""

    def __init__(self, distance: SlicedWasserstein):
        super().__init__(distance)
        self.distance = distance

    def resampled(self, index: Tensor) -> Tensor:
        preds, target = self.pooled()
        if len(preds) != len(target):
            return super().resampled(index)
        directions = self.distance.projections
        x = np.ascontiguousarray((preds.double().cpu().numpy() @ directions).T)  # (projections, rows)
        y = np.ascontiguousarray((target.double().cpu().numpy() @ directions).T)
        out = [np.sqrt(((np.sort(x[:, rows], axis=1) - np.sort(y[:, rows], axis=1)) ** 2).mean())
               for rows in index.cpu().numpy()]
        return torch.tensor(out, dtype=torch.float64)
