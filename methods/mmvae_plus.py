"""MMVAE+ (Palumbo et al. 2023): a shared latent u with mixture-of-experts inference plus a private latent
w_m per modality. Each unimodal u_r reconstructs its own modality with its own w_r and the others with w
drawn from their auxiliary priors r_d (learned scale); the prior learns from the unimodal u (spec 3.5)."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from methods.backbone.aggregation import mixture_component
from methods.backbone.gaussian import DiagGaussian
from methods.backbone.model import Backbone
from methods.base import METHODS, Method


@METHODS.register("mmvae_plus")
class MmvaePlus(Method):
    summary = "MMVAE+: MoE shared latent + private latents with auxiliary priors for cross-reconstruction"

    def build_backbone(self):
        d, w = self.model_config.latent_dim, self.model_config.private_dim
        self.aux_logvar = nn.Parameter(torch.zeros(len(self.specs), w))  # log-variance of r_d (mean 0)
        return Backbone(self.specs, self.model_config, self.flow_config, encoder_out=2 * (d + w), decoder_cond=d + w)

    def objective(self, batch, stage):
        d, w_dim = self.model_config.latent_dim, self.model_config.private_dim
        experts = self.backbone.encode(batch)
        present = experts.present
        k, n = present.shape
        q_u = DiagGaussian(*experts.gaussian(0, d))
        q_w = DiagGaussian(*experts.gaussian(2 * d, w_dim))
        u, w = q_u.rsample(), q_w.rsample()  # (K, B, ·): one draw per conditioning modality r
        share = present.float() / present.sum(0).clamp_min(1)  # stratified average over r, (K, B)
        terms: dict[str, Tensor] = {}
        for t, name in enumerate(self.names):
            rows = present & present[t]  # (r, b) pairs whose latent reconstructs modality t
            r_idx, b_idx = rows.nonzero(as_tuple=True)
            if not len(r_idx):
                continue
            aux = torch.randn(len(r_idx), w_dim, device=u.device) * (0.5 * self.aux_logvar[t]).exp()
            private = torch.where((r_idx == t)[:, None], w[r_idx, b_idx], aux)
            cond = torch.cat([u[r_idx, b_idx], private], dim=-1)
            per_row = self.backbone.decoders[name].loss(batch.data[name][b_idx], cond)
            terms[f"recon/{name}"] = (per_row * share[r_idx, b_idx]).sum() / n
        r_idx, b_idx = present.nonzero(as_tuple=True)
        weight = share[r_idx, b_idx]
        prior = self.backbone.prior.loss(q_u[r_idx, b_idx], u[r_idx, b_idx])
        for key, per_row in prior.items():
            terms[key] = (per_row * weight).sum() / n
        private_kl = self.flow_config.encoder_grad_scale * q_w[r_idx, b_idx].kl_to_standard_normal()
        terms["private_kl"] = (private_kl * weight).sum() / n
        terms["loss"] = sum(terms.values())
        return terms

    def aggregate_for_inference(self, mu, logvar, mask):
        return mixture_component(mu, logvar, mask)

    def decode(self, name: str, z: Tensor) -> Tensor:
        private = torch.randn(z.shape[0], self.model_config.private_dim, device=z.device)  # w ~ N(0, I)
        return self.backbone.decode(name, torch.cat([z, private], dim=-1))
