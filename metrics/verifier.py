"""Verifier-scored alignment and coherence (paper §6.2; spec metrics §3.1): a frozen classifier labels
generated images, and a sample counts when every label it should carry is recovered."""
from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics.functional.classification import multiclass_accuracy

from metrics.base import declare

ACCURACY = declare("verifier_accuracy", "higher",
                   "fraction of generated images whose conditioned label a frozen verifier recovers")
COHERENCE = declare("verifier_coherence", "higher",
                    "fraction of samples whose verifier labels all match each other and the generated labels")


def label_accuracy(predicted: Tensor, target: Tensor, num_classes: int) -> float:
    """Fraction of rows where the predicted class equals the target class."""
    if predicted.shape != target.shape:
        raise ValueError(f"predictions and targets disagree in shape: {tuple(predicted.shape)} vs "
                         f"{tuple(target.shape)}")
    return float(multiclass_accuracy(predicted, target.to(predicted.device), num_classes, average="micro"))


def agreement(predicted: list[Tensor], targets: list[Tensor]) -> float:
    """Fraction of rows where every prediction equals its target: multi-label alignment (both labels) and
    unconditional coherence (every image's digit and quadrant against the generated labels)."""
    if len(predicted) != len(targets) or not predicted:
        raise ValueError(f"need one target per prediction, got {len(predicted)} predictions, {len(targets)} targets")
    hits = torch.stack([p == t.to(p.device) for p, t in zip(predicted, targets)])
    return float(hits.all(0).float().mean())


def agreement_rows(predicted: Tensor, target: Tensor) -> Tensor:
    """Per row of (B, L) predictions and targets: 1.0 when every column agrees, else 0.0; their mean is
    agreement() column by column, and label_accuracy() for one column."""
    if predicted.shape != target.shape:
        raise ValueError(f"predictions and targets disagree in shape: {tuple(predicted.shape)} vs "
                         f"{tuple(target.shape)}")
    return (predicted == target.to(predicted.device)).all(1).double()
