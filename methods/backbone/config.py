"""Configuration of the shared backbone. Every field is a run setting; defaults follow the spec (section 6)."""
from __future__ import annotations

from dataclasses import dataclass

from methods.backbone.flow import Timesteps

BACKBONES = ("flow", "classic")
DECODER_SCALES = ("optimal", "learned")


def at_least(config, minimum: float, *names: str) -> None:
    """Range check for __post_init__: ValueError naming the field, which the config layer reports in one line."""
    for name in names:
        if getattr(config, name) < minimum:
            raise ValueError(f"{name} must be at least {minimum}, not {getattr(config, name)}")


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
    decoder_scale: str = "optimal"  # classic backbone's Gaussian σ: "optimal" (closed form per batch) or "learned"

    def __post_init__(self):
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone '{self.backbone}'; available: {', '.join(BACKBONES)}")
        if self.decoder_scale not in DECODER_SCALES:
            raise ValueError(f"unknown decoder_scale '{self.decoder_scale}'; available: {', '.join(DECODER_SCALES)}")
        at_least(self, 1, "latent_dim", "private_dim", "encoder_width", "encoder_blocks", "decoder_width",
                 "decoder_blocks", "prior_width", "prior_blocks", "time_dim")


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

    def __post_init__(self):
        if not self.timestep_std > 0:
            raise ValueError(f"timestep_std must be positive, not {self.timestep_std}")
        if not 0.0 < self.t_min < self.t_max <= 1.0:
            raise ValueError(f"need 0 < t_min < t_max <= 1, not t_min={self.t_min}, t_max={self.t_max}")
        at_least(self, 0.0, "encoder_grad_scale", "weight_clip")
        at_least(self, 1, "prior_steps", "decoder_steps")

    @property
    def timesteps(self) -> Timesteps:
        return Timesteps(self.timestep_mean, self.timestep_std, self.t_min, self.t_max)
