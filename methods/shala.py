"""ShaLa (Cui et al. 2026): a fused joint encoder q(z | X) trained with the decoders against N(0, I), then,
with everything frozen, a second-stage unconditional flow prior and a per-source conditional flow prior
p(z | h_src) for one-to-one generation. It has no many-to-one generation (spec 3.6)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from methods.backbone.gaussian import DiagGaussian
from methods.backbone.model import Backbone
from methods.backbone.nets import ResidualMLP
from methods.backbone.prior import FlowPrior
from methods.base import METHODS, Capabilities, ConditioningError, Method, Stage


@dataclass
class ShalaOptions:
    stage1_fraction: float = 0.5  # share of the step budget for the autoencoder stage ([I])
    kl_weight: float = -1.0  # stage-1 KL weight to N(0, I); negative: use flow.encoder_grad_scale

    def __post_init__(self):
        if not 0.0 < self.stage1_fraction < 1.0:
            raise ValueError(f"stage1_fraction must lie in (0, 1), not {self.stage1_fraction}")


@METHODS.register("shala")
class Shala(Method):
    needs_full_tuples = True  # the fused encoder needs every modality
    summary = "ShaLa: fused joint encoder, then second-stage unconditional and per-source conditional priors"
    capabilities = Capabilities(one_to_one=True, many_to_one=False, unconditional=True)
    Options = ShalaOptions

    def build_backbone(self):
        d, k = self.model_config.latent_dim, len(self.specs)
        cfg, flow = self.model_config, self.flow_config
        self.feature_dim = 2 * d
        self.fusion = ResidualMLP(k * self.feature_dim, 2 * d, cfg.encoder_width, cfg.encoder_blocks)
        self.prior = FlowPrior(d, cfg, flow)
        self.conditional_prior = FlowPrior(d, cfg, flow, cond_dim=self.feature_dim + k)
        return Backbone(self.specs, cfg, flow, encoder_out=self.feature_dim, with_prior=False)

    @property
    def stages(self) -> list[Stage]:
        f = self.options.stage1_fraction
        return [Stage("autoencoder", f), Stage("priors", 1.0 - f)]

    def stage_parameters(self, stage):
        if stage == "autoencoder":
            return [*self.backbone.parameters(), *self.fusion.parameters()]
        return [*self.prior.parameters(), *self.conditional_prior.parameters()]

    def joint_posterior(self, features: Tensor) -> DiagGaussian:
        return DiagGaussian.split(self.fusion(torch.cat(list(features), dim=-1)))

    def objective(self, batch, stage):
        if stage == "autoencoder":
            q = self.joint_posterior(self.backbone.encode(batch).params)
            z = q.rsample()
            terms = {f"recon/{n}": self.backbone.decoders[n].loss(batch.data[n], z).mean() for n in self.names}
            beta = self.options.kl_weight if self.options.kl_weight >= 0 else self.flow_config.encoder_grad_scale
            terms["prior_kl"] = beta * q.kl_to_standard_normal().mean()
        else:
            with torch.no_grad():  # second stage: the autoencoder is frozen
                features = self.backbone.encode(batch).params
                z = self.joint_posterior(features).rsample()
            k, n = features.shape[:2]
            source = torch.eye(k, device=z.device).repeat_interleave(n, 0)
            cond = torch.cat([features.reshape(k * n, -1), source], dim=-1)
            terms = {"prior_cfm": self.prior.fit_loss(z).mean(),
                     "conditional_prior_cfm": self.conditional_prior.fit_loss(z.repeat(k, 1), cond).mean()}
        terms["loss"] = sum(terms.values())
        return terms

    def posterior(self, batch, subset):
        if sorted(subset) == sorted(self.names):
            return self.joint_posterior(self.backbone.encode(batch).params)
        if len(subset) == 1:
            raise ConditioningError("shala has no Gaussian posterior for one source: its one-to-one latents come "
                                    "from the conditional flow prior (use generate)")
        return super().posterior(batch, subset)  # raises the capability error for many-to-one

    def check_conditioning(self, subset, targets=()):
        if len(subset) == len(self.names):
            return  # the fused joint posterior (reconstruction) is available
        super().check_conditioning(subset, targets)

    def conditional_latent(self, batch, subset):
        if len(subset) != 1:
            return self.posterior(batch, subset).rsample()
        k = self.names.index(subset[0])
        features = self.backbone.encode(batch).params[k]
        source = nn.functional.one_hot(torch.full((features.shape[0],), k, device=features.device), len(self.names))
        cond = torch.cat([features, source.float()], dim=-1)
        return self.conditional_prior.sample(features.shape[0], self.flow_config.prior_steps, cond=cond)

    def prior_latent(self, n):
        return self.prior.sample(n, self.flow_config.prior_steps, device=self.backbone.device)
