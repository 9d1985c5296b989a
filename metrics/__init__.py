"""Metrics: one file per family; each declares its direction in METRICS."""
from metrics import alignment, bootstrap, embedding, frechet, sliced_wasserstein, verifier  # noqa: F401
from metrics.base import METRICS, MetricInfo
from metrics.media import captions, scores  # noqa: F401

__all__ = ["METRICS", "MetricInfo"]
