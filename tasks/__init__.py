"""Suites: data, modality specs, task matrices and the paper's reference numbers."""
from tasks import (  # noqa: F401  (registration order: GM first)
    gaussian_mixture,
    image_text_audio,  # noqa: F401
    polymnist_quadrant_labels,
)
from tasks.base import SUITES, EvalConfig, Suite

__all__ = ["SUITES", "EvalConfig", "Suite"]
