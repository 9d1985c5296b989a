"""Suites: data, modality specs, task matrices and the paper's reference numbers."""
from tasks import gaussian_mixture  # noqa: F401
from tasks.base import SUITES, EvalConfig, Suite

__all__ = ["SUITES", "EvalConfig", "Suite"]
