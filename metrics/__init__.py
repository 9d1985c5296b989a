"""Metrics: one file per family; each declares its direction in METRICS."""
from metrics import alignment, embedding, frechet, sliced_wasserstein, verifier  # noqa: F401
from metrics.base import METRICS, MetricInfo

__all__ = ["METRICS", "MetricInfo"]
