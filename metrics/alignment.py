"""Shared-coordinate mean squared error: alignment (condition vs generated) and coherence (generated vs
generated) on the Gaussian-mixture suite (paper App. D)."""
from __future__ import annotations

from torch import Tensor
from torchmetrics.functional import mean_squared_error

from metrics.base import declare

ALIGNMENT = declare("alignment_mse", "lower", "MSE on shared coordinates between a source and the generated target")
COHERENCE = declare("coherence_mse", "lower", "MSE on shared coordinates between jointly generated modalities")


def shared_mse(a: Tensor, b: Tensor) -> float:
    """Mean over samples and coordinates of (a - b)²; `a` and `b` are the shared coordinates, row-aligned."""
    if a.shape != b.shape:
        raise ValueError(f"shared coordinates disagree in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    return float(mean_squared_error(a.float(), b.float()))


def shared_squared_error_rows(a: Tensor, b: Tensor) -> Tensor:
    """Per row: the mean over shared coordinates of (a - b)² (float64); their mean is shared_mse."""
    if a.shape != b.shape:
        raise ValueError(f"shared coordinates disagree in shape: {tuple(a.shape)} vs {tuple(b.shape)}")
    return ((a.double() - b.double()) ** 2).mean(1)
