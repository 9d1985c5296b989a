"""Suites: data, modality specs, task matrices and the paper's reference numbers."""
from tasks import gaussian_mixture, polymnist_quadrant_labels  # noqa: F401  (registration order: GM first)
from tasks.base import SUITES, EvalConfig, Suite

__all__ = ["SUITES", "EvalConfig", "Suite"]
