"""A Fréchet distance on the features of the suite's own verifier, via torchmetrics' FrechetInceptionDistance
with a custom feature module (spec metrics §3.3). It is not Inception FID: values compare methods within one
suite and dataset, not with FID numbers elsewhere."""
from __future__ import annotations

import torch
from torch import Tensor, nn
from torchmetrics.image.fid import FrechetInceptionDistance

from metrics.base import declare

INFO = declare("verifier_frechet", False,
               "Fréchet distance between verifier features of generated and real images (not Inception FID)")


def frechet_distance(real: Tensor, generated: Tensor, features: nn.Module, batch_size: int = 1000) -> float:
    """Fréchet distance between Gaussians fitted to features(real) and features(generated); `features` maps a
    batch to (B, F) and has a `num_features` attribute (F)."""
    if not hasattr(features, "num_features"):
        raise ValueError("the feature module needs a num_features attribute (its output width)")
    metric = FrechetInceptionDistance(feature=features, normalize=True).to(real.device)
    with torch.no_grad():
        for images, is_real in ((real, True), (generated, False)):
            for start in range(0, len(images), batch_size):
                metric.update(images[start:start + batch_size], real=is_real)
        return float(metric.compute())
