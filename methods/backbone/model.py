"""The shared backbone: one encoder and one decoder per modality and one prior over the shared latent, plus
the routed objective that every aggregation-based method is written in."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from methods.backbone.aggregation import detach_experts
from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.gaussian import DiagGaussian
from methods.backbone.modality import Batch, ModalitySpec, build_decoders, build_encoders
from methods.backbone.prior import build_prior

Aggregate = Callable[[Tensor, Tensor, Tensor], DiagGaussian]


@dataclass
class Experts:
    """Encoder outputs stacked over modalities: params (K, B, width) and presence (K, B)."""

    params: Tensor
    present: Tensor

    def gaussian(self, offset: int, dim: int) -> tuple[Tensor, Tensor]:
        """(mu, logvar), each (K, B, dim), read from columns [offset, offset + 2·dim)."""
        block = self.params[..., offset:offset + 2 * dim]
        return block[..., :dim], block[..., dim:]


@dataclass
class Routes:
    """Which latents a training step draws and what each one trains (rows are independent).

    Row r aggregates the experts `subset[r]` of batch sample `sample[r]`, with `detach[r]` stopped-gradient
    (target-detached self-reconstruction); its latent reconstructs the modalities `targets[r]`, each weighted
    by `recon_weight[r]`, and trains the prior with weight `prior_weight[r]`. Losses are divided by the batch
    size, so the weights of one sample's rows say how its objective is composed.
    """

    sample: Tensor
    subset: Tensor
    targets: Tensor
    recon_weight: Tensor
    prior_weight: Tensor
    detach: Tensor | None = None

    @staticmethod
    def cat(parts: list[Routes]) -> Routes:
        detach = [p.detach if p.detach is not None else torch.zeros_like(p.subset) for p in parts]
        return Routes(*(torch.cat([getattr(p, f) for p in parts]) for f in
                        ("sample", "subset", "targets", "recon_weight", "prior_weight")), torch.cat(detach))


class Backbone(nn.Module):
    def __init__(self, specs: list[ModalitySpec], model: ModelConfig, flow: FlowConfig,
                 encoder_out: int | None = None, decoder_cond: int | None = None, with_prior: bool = True):
        super().__init__()
        self.specs = list(specs)
        self.names = [s.name for s in self.specs]
        self.latent_dim = model.latent_dim
        self.flow = flow
        self.encoders = build_encoders(self.specs, encoder_out or 2 * model.latent_dim, model)
        self.decoders = build_decoders(self.specs, decoder_cond or model.latent_dim, model, flow)
        self.prior = build_prior(model.latent_dim, model, flow) if with_prior else None

    def encode(self, batch: Batch) -> Experts:
        outs, present = [], []
        for name in self.names:
            x = batch.data.get(name)
            if x is None:
                outs.append(None)
                present.append(torch.zeros(batch.size, dtype=torch.bool, device=self.device))
            else:
                outs.append(self.encoders[name](x))
                present.append(batch.present[name])
        width = next(o for o in outs if o is not None)
        params = torch.stack([o if o is not None else torch.zeros_like(width) for o in outs])
        return Experts(params, torch.stack(present))

    def experts(self, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
        experts = self.encode(batch)
        mu, logvar = experts.gaussian(0, self.latent_dim)
        return mu, logvar, experts.present

    def routed_loss(self, batch: Batch, routes: Routes, aggregate: Aggregate) -> dict[str, Tensor]:
        """Aggregate each route's experts, draw its latent, and sum its reconstruction and prior terms."""
        mu, logvar, present = self.experts(batch)
        rows = routes.sample
        mu, logvar, present = mu[:, rows], logvar[:, rows], present[:, rows]
        if routes.detach is not None:
            mu, logvar = detach_experts(mu, logvar, routes.detach.T)
        posterior = aggregate(mu, logvar, routes.subset.T & present)
        z = posterior.rsample()
        n = batch.size
        terms: dict[str, Tensor] = {}
        for k, name in enumerate(self.names):
            use = (routes.targets[:, k] & present[k]).nonzero().squeeze(1)
            if use.numel():
                x = batch.data[name][rows[use]]
                per_row = self.decoders[name].loss(x, z[use])
                terms[f"recon/{name}"] = (per_row * routes.recon_weight[use]).sum() / n
        use = (routes.prior_weight > 0).nonzero().squeeze(1)
        if use.numel():
            for key, per_row in self.prior.loss(posterior[use], z[use]).items():
                terms[key] = (per_row * routes.prior_weight[use]).sum() / n
        terms["loss"] = sum(terms.values())
        return terms

    def decode(self, name: str, z: Tensor, steps: int | None = None) -> Tensor:
        return self.decoders[name].sample(z, steps or self.flow.decoder_steps)

    def sample_prior(self, n: int) -> Tensor:
        return self.prior.sample(n, self.flow.prior_steps, device=self.device)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device
