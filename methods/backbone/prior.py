"""Priors over the shared latent: the learned flow prior (paper App. C) and the classic N(0, I)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.flow import cfm_loss, elbo_weight, euler_sample, scale_grad
from methods.backbone.gaussian import DiagGaussian
from methods.backbone.nets import CountsExamples, VelocityMLP


class FlowPrior(CountsExamples):
    """Flow-matching prior p(z). Its own network learns plain CFM (Eq. 45); the encoder receives the
    ELBO-corrected gradient β_enc·w(τ)·∇CFM through GS (Eqs. 50-52) plus β_enc times the negative entropy
    of its Gaussian posterior (Eq. 53)."""

    def __init__(self, dim: int, cfg: ModelConfig, flow: FlowConfig, cond_dim: int = 0):
        super().__init__()
        self.dim = dim
        self.timesteps = flow.timesteps
        self.beta = flow.encoder_grad_scale
        self.weight_clip = flow.weight_clip
        self.velocity = VelocityMLP(dim, cond_dim, cfg.prior_width, cfg.prior_blocks, cfg.time_dim)

    def loss(self, posterior: DiagGaussian, z0: Tensor, cond: Tensor | None = None) -> dict[str, Tensor]:
        self.count(z0)
        t = self.timesteps.sample(z0.shape[0], z0.device)
        g = self.beta * elbo_weight(t, self.timesteps, self.weight_clip)
        z0g = scale_grad(z0, g[:, None])
        cfm = cfm_loss(lambda z_t, tau: self.velocity(z_t, tau, cond), z0g, t)
        return {"prior_cfm": cfm, "prior_neg_entropy": -self.beta * posterior.entropy()}

    def fit_loss(self, z0: Tensor, cond: Tensor | None = None) -> Tensor:
        """Plain CFM on fixed latents (no encoder gradient): a second-stage prior, as in ShaLa."""
        self.count(z0)
        t = self.timesteps.sample(z0.shape[0], z0.device)
        return cfm_loss(lambda z_t, tau: self.velocity(z_t, tau, cond), z0.detach(), t)

    def sample(self, n: int, steps: int, cond: Tensor | None = None, device=None) -> Tensor:
        device = cond.device if cond is not None else device
        noise = torch.randn(n, self.dim, device=device)
        return euler_sample(lambda z_t, tau: self.velocity(z_t, tau, cond), noise, steps)


class StandardNormalPrior(CountsExamples):
    """The classic fixed prior N(0, I) with an analytic KL, weighted by the same β as the flow prior."""

    def __init__(self, dim: int, flow: FlowConfig):
        super().__init__()
        self.dim = dim
        self.beta = flow.encoder_grad_scale

    def loss(self, posterior: DiagGaussian, z0: Tensor, cond: Tensor | None = None) -> dict[str, Tensor]:
        self.count(z0)
        return {"prior_kl": self.beta * posterior.kl_to_standard_normal()}

    def sample(self, n: int, steps: int, cond: Tensor | None = None, device=None) -> Tensor:
        return torch.randn(n, self.dim, device=device)


def build_prior(dim: int, cfg: ModelConfig, flow: FlowConfig) -> nn.Module:
    if cfg.backbone == "flow":
        return FlowPrior(dim, cfg, flow)
    if cfg.backbone == "classic":
        return StandardNormalPrior(dim, flow)
    raise ValueError(f"unknown backbone '{cfg.backbone}'; available: classic, flow")
