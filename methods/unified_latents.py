"""The direct multimodal Unified-Latents objective (paper Eq. 6), the strawman MUNI is built against: every
subset latent decodes every modality without detaching, and every subset latent trains the prior."""
from __future__ import annotations

from dataclasses import dataclass

from methods.base import METHODS
from methods.muni import Muni, MuniOptions


@dataclass
class UnifiedLatentsOptions(MuniOptions):
    detach_self: bool = False
    prior_subsets: str = "all"


@METHODS.register("unified_latents")
class UnifiedLatents(Muni):
    summary = "Direct multimodal UL (Eq. 6): no target detach, prior on every subset latent (ablation)"
    Options = UnifiedLatentsOptions
