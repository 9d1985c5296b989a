"""FlowBind (Cha et al., 2026) at the embedding level (spec image_text_audio §2; [V-src] its released train.py):
one flow per modality between the modality's vector (t = 1) and a shared anchor (t = 0). Each modality's
encoder head gives a mean; a sample's anchor is the product of its modalities' Gaussians with a fixed variance
(the mean of the means) under modality dropout, plus noise of that product's variance. Each flow learns the
straight path from the anchor to its data, and at t = 0 its velocity also trains the encoder heads. Encoding
integrates the source's flow from t = 1 to 0, decoding the target's from 0 to 1 (Euler); many-to-one averages
the encoded anchors. Generation is deterministic given the sources, and there is no unconditional sampler.

Deviations: the modalities must share one width, so narrower ones are lifted by a fixed orthonormal map (exactly
inverted by its transpose) instead of FlowBind's learned audio autoencoder; the flows are this harness's
velocity MLPs (no adaLN DiT blocks); the losses of the pair types in a batch are summed, as FlowBind does."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from methods.backbone.nets import ResidualMLP, VelocityMLP
from methods.base import METHODS, Capabilities, Method


@dataclass
class FlowBindOptions:
    anchor_variance: float = 10.0  # fixed variance of every modality's Gaussian around its mean
    modality_dropout: float = 0.5  # chance to leave a modality out of a pair type's anchor (all out: keep all)
    one_time_probability: float = 0.3  # share of flow-loss timesteps set to t = 1
    euler_steps: int = 10  # steps of encoding and decoding (FlowBind's default "euler10")

    def __post_init__(self):
        if not self.anchor_variance > 0:
            raise ValueError(f"anchor_variance must be positive, not {self.anchor_variance}")
        for name in ("modality_dropout", "one_time_probability"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise ValueError(f"{name} must lie in [0, 1), not {getattr(self, name)}")
        if self.euler_steps < 1:
            raise ValueError(f"euler_steps must be at least 1, not {self.euler_steps}")


def orthonormal_lift(d: int, width: int) -> Tensor:
    """A fixed (d, width) map with orthonormal rows: x @ Q lifts, y @ Q.T inverts it exactly on its image."""
    g = torch.Generator().manual_seed(d * 100_003 + width)
    q, _ = torch.linalg.qr(torch.randn(width, d, generator=g))
    return q.T.contiguous()


class FlowBindNets(nn.Module):
    def __init__(self, specs, model, width: int):
        super().__init__()
        self.width = width
        self.flows = nn.ModuleDict({s.name: VelocityMLP(width, 0, model.decoder_width, model.decoder_blocks,
                                                        model.time_dim) for s in specs})
        self.means = nn.ModuleDict({s.name: ResidualMLP(width, width, model.encoder_width, model.encoder_blocks)
                                    for s in specs})
        for s in specs:
            self.register_buffer(f"lift_{s.name}", orthonormal_lift(s.size, width) if s.size < width else
                                 torch.eye(width))

    def lift(self, name: str, x: Tensor) -> Tensor:
        return x.flatten(1) @ getattr(self, f"lift_{name}")

    def lower(self, name: str, y: Tensor) -> Tensor:
        return y @ getattr(self, f"lift_{name}").T

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device


@METHODS.register("flowbind")
class FlowBind(Method):
    summary = "FlowBind: per-modality flows to a shared anchor; deterministic encode/decode; no prior"
    capabilities = Capabilities(one_to_one=True, many_to_one=True, unconditional=False)
    Options = FlowBindOptions
    modality_kinds = ("vector",)  # the only kind it can train on (bench leaves it out of other suites)

    def build_backbone(self) -> nn.Module:
        if any(s.kind not in self.modality_kinds for s in self.specs):
            raise ValueError("flowbind runs on embedding vectors only (every modality of kind 'vector')")
        return FlowBindNets(self.specs, self.model_config, max(s.size for s in self.specs))

    def objective(self, batch, stage):
        nets, opts = self.backbone, self.options
        present = self.present_mask(batch).T  # (B, K)
        total = torch.zeros((), device=present.device)
        terms: dict[str, Tensor] = {}
        for pattern in torch.unique(present, dim=0):  # one group per pair type, as FlowBind's loader groups them
            rows = (present == pattern).all(1).nonzero().squeeze(1)
            names = [n for n, here in zip(self.names, pattern.tolist()) if here]
            if not names:
                continue
            data = {n: nets.lift(n, batch.data[n][rows]) for n in names}
            means = {n: nets.means[n](data[n]) for n in names}
            kept = [n for n in names if torch.rand(()) >= opts.modality_dropout] or names
            z_mean = torch.stack([means[n] for n in kept]).mean(0)  # product of equal-variance Gaussians
            z = z_mean + torch.randn_like(z_mean) * (opts.anchor_variance / len(kept)) ** 0.5
            for n in names:
                x = data[n]
                t = torch.rand(len(x), 1, device=x.device)
                t = torch.where(torch.rand_like(t) < opts.one_time_probability, torch.ones_like(t), t)
                x_t = (t * x + (1 - t) * z).detach()
                flow = (nets.flows[n](x_t, t.squeeze(1)) - (x - z).detach()).square().mean(1).mean()
                at_zero = (nets.flows[n](z, torch.zeros(len(x), device=x.device)) - (x - z)).square().mean(1).mean()
                terms[f"flow/{n}"] = terms.get(f"flow/{n}", 0.0) + flow
                terms[f"anchor/{n}"] = terms.get(f"anchor/{n}", 0.0) + at_zero
                total = total + flow + at_zero
        terms["loss"] = total
        return terms

    def integrate(self, name: str, x: Tensor, start: float, end: float) -> Tensor:
        """Euler steps of modality `name`'s flow from time `start` to `end`."""
        steps = self.options.euler_steps
        dt = (end - start) / steps
        for i in range(steps):
            t = torch.full((len(x),), start + i * dt, device=x.device)
            x = x + dt * self.backbone.flows[name](x, t)
        return x

    def conditional_latent(self, batch, subset):
        self.check_conditioning(subset)
        anchors = [self.integrate(n, self.backbone.lift(n, batch.data[n]), 1.0, 0.0) for n in subset]
        return torch.stack(anchors).mean(0)

    def decode(self, name, z):
        spec = self.specs[self.names.index(name)]
        y = self.backbone.lower(name, self.integrate(name, z, 0.0, 1.0))
        return y.reshape(len(z), *spec.shape)
