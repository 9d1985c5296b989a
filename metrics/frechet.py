"""A Fréchet distance on the features of the suite's own verifier (spec metrics §3.3): the closed form of
metrics/embedding.py on the feature vectors, which the bootstrap recomputes on resampled features (checked against
torchmetrics' FrechetInceptionDistance with the same feature module in tests/metrics/test_metrics.py). It is not
Inception FID: values compare methods within one suite and dataset, not with FID numbers elsewhere."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from metrics.base import declare
from metrics.embedding import frechet_distance as feature_distance

INFO = declare("verifier_frechet", "lower",
               "Fréchet distance between verifier features of generated and real images (not Inception FID)")


def features_of(images: Tensor, features: nn.Module, batch_size: int = 1000) -> Tensor:
    with torch.no_grad():
        return torch.cat([features(images[start:start + batch_size]).double()
                          for start in range(0, len(images), batch_size)])


def frechet_distance(real: Tensor, generated: Tensor, features: nn.Module, batch_size: int = 1000) -> float:
    """Fréchet distance between Gaussians fitted to features(real) and features(generated); `features` maps a
    batch to (B, F)."""
    return feature_distance(features_of(generated, features, batch_size), features_of(real, features, batch_size))
