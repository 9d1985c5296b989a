"""Diagonal-Gaussian posteriors: the experts every encoder emits and every aggregation rule returns."""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

LOG_2PI = math.log(2 * math.pi)


@dataclass
class DiagGaussian:
    """N(mu, diag exp(logvar)); leading dimensions are rows, the last is the latent dimension."""

    mu: Tensor
    logvar: Tensor

    def rsample(self) -> Tensor:
        return self.mu + torch.randn_like(self.mu) * (0.5 * self.logvar).exp()

    def entropy(self) -> Tensor:
        """Analytic entropy, summed over the latent dimension (paper App. C, Eq. 53)."""
        return 0.5 * (self.logvar + 1.0 + LOG_2PI).sum(-1)

    def kl_to_standard_normal(self) -> Tensor:
        return 0.5 * (self.mu.square() + self.logvar.exp() - 1.0 - self.logvar).sum(-1)

    def log_prob(self, z: Tensor) -> Tensor:
        return -0.5 * ((z - self.mu).square() * (-self.logvar).exp() + self.logvar + LOG_2PI).sum(-1)

    def detach(self) -> DiagGaussian:
        return DiagGaussian(self.mu.detach(), self.logvar.detach())

    def __getitem__(self, index) -> DiagGaussian:
        return DiagGaussian(self.mu[index], self.logvar[index])

    @property
    def std(self) -> Tensor:
        return (0.5 * self.logvar).exp()

    @staticmethod
    def split(params: Tensor) -> DiagGaussian:
        """Read an encoder output of width 2d as (mean, log-variance)."""
        mu, logvar = params.chunk(2, dim=-1)
        return DiagGaussian(mu, logvar)
