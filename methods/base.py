"""The method contract: every method is the shared backbone trained with its own objective."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn

from base.registry import Registry
from methods.backbone.aggregation import product
from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.gaussian import DiagGaussian
from methods.backbone.modality import Batch, DataError, ModalitySpec, check_batch
from methods.backbone.model import Backbone


class ConditioningError(ValueError):
    """A subset or target the method cannot condition on or generate."""


@dataclass(frozen=True)
class Capabilities:
    one_to_one: bool = True
    many_to_one: bool = True
    unconditional: bool = True

    def supports(self, n_sources: int) -> bool:
        if n_sources == 0:
            return self.unconditional
        return self.one_to_one if n_sources == 1 else self.many_to_one

    def directions(self) -> list[str]:
        names = ("one_to_one", "many_to_one", "unconditional")
        return [n for n in names if getattr(self, n)]


@dataclass(frozen=True)
class Stage:
    """A training stage; `fraction` of the step budget goes to it (most methods have one)."""

    name: str
    fraction: float


@dataclass
class NoOptions:
    pass


class Method(nn.Module):
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    capabilities: ClassVar[Capabilities] = Capabilities()
    Options: ClassVar[type] = NoOptions
    needs_full_tuples: ClassVar[bool] = False  # True: cannot train on partially observed samples
    modality_kinds: ClassVar[tuple[str, ...]] = ()  # the only modality kinds it can train on; (): any

    def __init__(self, specs: Sequence[ModalitySpec], model: ModelConfig, flow: FlowConfig, options=None):
        super().__init__()
        self.specs = list(specs)
        self.names = [s.name for s in self.specs]
        self.model_config = model
        self.flow_config = flow
        self.options = options if options is not None else self.Options()
        self.backbone = self.build_backbone()

    def build_backbone(self) -> nn.Module:
        return Backbone(self.specs, self.model_config, self.flow_config)

    # --- training -------------------------------------------------------------------------------------
    @property
    def stages(self) -> list[Stage]:
        return [Stage("joint", 1.0)]

    def loss(self, batch: Batch, stage: str = "joint") -> dict[str, Tensor]:
        """Named loss terms of one step; "loss" is the total that is minimised."""
        check_batch(self.specs, batch)
        if self.needs_full_tuples and not self.present_mask(batch).all():
            raise DataError(f"{self.name} trains on fully observed tuples only; this batch has missing modalities")
        return self.objective(batch, stage)

    def objective(self, batch: Batch, stage: str) -> dict[str, Tensor]:
        raise NotImplementedError

    def present_mask(self, batch: Batch) -> Tensor:
        """(K, B) presence of each modality in each sample."""
        device = next(iter(batch.data.values())).device
        absent = torch.zeros(batch.size, dtype=torch.bool, device=device)
        return torch.stack([batch.present.get(n, absent) for n in self.names])

    def stage_parameters(self, stage: str) -> Iterable[nn.Parameter]:
        return self.parameters()

    # --- inference ------------------------------------------------------------------------------------
    def aggregate_for_inference(self, mu: Tensor, logvar: Tensor, mask: Tensor) -> DiagGaussian:
        return product(mu, logvar, mask)

    def check_conditioning(self, subset: Sequence[str], targets: Sequence[str] = ()) -> None:
        for name in [*subset, *targets]:
            if name not in self.names:
                raise ConditioningError(f"unknown modality '{name}'; available: {', '.join(self.names)}")
        if not self.capabilities.supports(len(subset)):
            allowed = ", ".join(self.capabilities.directions()) or "nothing"
            given = "+".join(subset) or "nothing"
            raise ConditioningError(f"{self.name} cannot condition on {given}: it supports {allowed} only")

    def posterior(self, batch: Batch, subset: Sequence[str]) -> DiagGaussian:
        """q(z | x_S) as used for conditional generation."""
        if not subset:
            raise ConditioningError("the conditioning subset is empty; use sample_joint for unconditional samples")
        self.check_conditioning(subset)
        check_batch(self.specs, batch)
        mu, logvar, present = self.backbone.experts(batch)
        chosen = torch.tensor([n in subset for n in self.names], device=present.device)
        return self.aggregate_for_inference(mu, logvar, present & chosen[:, None])

    @torch.inference_mode()
    def generate(self, batch: Batch, subset: Sequence[str], targets: Sequence[str] | None = None
                 ) -> dict[str, Tensor]:
        """Sample each target modality given the modalities in `subset` (one sample per batch row)."""
        targets = [n for n in self.names if n not in subset] if targets is None else list(targets)
        self.check_conditioning(subset, targets)
        z = self.conditional_latent(batch, subset)
        return {name: self.decode(name, z) for name in targets}

    @torch.inference_mode()
    def sample_joint(self, n: int) -> dict[str, Tensor]:
        """Unconditional co-generation: z from the prior, every modality decoded from it."""
        self.check_conditioning([])
        z = self.prior_latent(n)
        return {name: self.decode(name, z) for name in self.names}

    def conditional_latent(self, batch: Batch, subset: Sequence[str]) -> Tensor:
        return self.posterior(batch, subset).rsample()

    def prior_latent(self, n: int) -> Tensor:
        return self.backbone.sample_prior(n)

    def decode(self, name: str, z: Tensor) -> Tensor:
        return self.backbone.decode(name, z)


METHODS: Registry[type[Method]] = Registry("method")
