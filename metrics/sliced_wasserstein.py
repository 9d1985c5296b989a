"""Sliced Wasserstein distance (POT) with fixed projections, so every method is scored on the same slices."""
from __future__ import annotations

import numpy as np
import ot
import torch

from metrics.base import declare

INFO = declare("sliced_wasserstein", False, "SW2 distance between generated and real samples (fixed projections)")


class SlicedWasserstein:
    """SW2 = sqrt(mean over projections of W2² of the 1-d projections) on `n_projections` fixed directions."""

    higher_is_better = False

    def __init__(self, dim: int, n_projections: int = 128, seed: int = 0):
        self.projections = ot.sliced.get_random_projections(dim, n_projections, seed=seed)

    def __call__(self, generated, real) -> float:
        x = np.asarray(torch.as_tensor(generated).cpu(), dtype=np.float64)
        y = np.asarray(torch.as_tensor(real).cpu(), dtype=np.float64)
        if x.shape[1] != self.projections.shape[0] or y.shape[1] != self.projections.shape[0]:
            raise ValueError(f"expected {self.projections.shape[0]}-dimensional samples, got {x.shape} and {y.shape}")
        return float(ot.sliced_wasserstein_distance(x, y, projections=self.projections, p=2))
