"""Small specs, configs and batches shared by the method tests."""
from __future__ import annotations

import torch

from methods import METHODS
from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.modality import Batch, ModalitySpec

SPECS = [ModalitySpec(f"x{i}", "vector", (6,)) for i in (1, 2, 3)]
TINY = ModelConfig(latent_dim=4, private_dim=2, encoder_width=16, encoder_blocks=1, decoder_width=16,
                   decoder_blocks=1, prior_width=16, prior_blocks=1, time_dim=8)
FLOW = FlowConfig(prior_steps=3, decoder_steps=3)


def build(name: str, options=None, specs=SPECS, model=TINY, flow=FLOW):
    cls = METHODS.get(name)
    method = cls(specs, model, flow, options if options is not None else cls.Options())
    with torch.no_grad():  # velocity nets start at zero output; give them a random one so z matters
        for p in method.parameters():
            if p.dim() == 2 and not p.any():
                p.normal_(0.0, 0.2)
    return method


def batch(n: int = 8, specs=SPECS) -> Batch:
    return Batch({s.name: torch.randn(n, *s.shape) for s in specs})


def grads_of(module) -> list[torch.Tensor]:
    return [p.grad for p in module.parameters()]


def all_zero(module) -> bool:
    return all(g is None or bool((g == 0).all()) for g in grads_of(module))


def any_nonzero(module) -> bool:
    return any(g is not None and bool((g != 0).any()) for g in grads_of(module))
