"""Configuration of the shared backbone. Every field is a run setting; defaults follow the spec (section 6)."""
from __future__ import annotations

from dataclasses import dataclass

from methods.backbone.flow import Timesteps


@dataclass
class ModelConfig:
    backbone: str = "flow"  # "flow": learned flow prior + flow decoders (the paper's); "classic": N(0, I) + Gaussian
    latent_dim: int = 48
    private_dim: int = 24  # MMVAE+ only: private latent per modality
    encoder_width: int = 512
    encoder_blocks: int = 4
    decoder_width: int = 512
    decoder_blocks: int = 4
    prior_width: int = 512
    prior_blocks: int = 4
    time_dim: int = 128


@dataclass
class FlowConfig:
    timestep_mean: float = 0.0  # logit-normal location (spec 0.2, [NF]; SD3 default)
    timestep_std: float = 1.0  # logit-normal scale
    t_min: float = 1e-3  # timestep clamp: the ELBO weight diverges at τ → 0 (spec 0.3)
    t_max: float = 1.0 - 1e-3
    encoder_grad_scale: float = 0.01  # β_enc: encoder-side weight of the prior term (Eq. 52; value [NF], small
    # per Prop. B.2; 0.1 cut MUNI's 1→1 alignment threefold in a short cpu run, see the report's sweep)
    weight_clip: float = 100.0  # upper clip of the ELBO importance weight w(τ); 0 disables
    prior_steps: int = 50  # Euler steps of the prior sampler (paper App. D)
    decoder_steps: int = 50  # Euler steps of the decoder samplers

    @property
    def timesteps(self) -> Timesteps:
        return Timesteps(self.timestep_mean, self.timestep_std, self.t_min, self.t_max)
