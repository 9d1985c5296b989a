"""MMVAE (Shi et al. 2019): mixture of experts, trained with the stratified K=1 ELBO — each unimodal latent
reconstructs every modality and trains the prior (IWAE/DReG need a tractable likelihood; spec 3.2)."""
from __future__ import annotations

import torch

from methods.backbone.aggregation import mixture_component, product
from methods.backbone.model import Routes
from methods.base import METHODS, Method
from methods.routing import same_rows


@METHODS.register("mmvae")
class Mmvae(Method):
    summary = "MMVAE: mixture of experts; every unimodal latent decodes all modalities and trains the prior"

    def objective(self, batch, stage):
        present = self.present_mask(batch).T
        share = 1.0 / present.sum(1).clamp_min(1).float()
        parts = []
        for k in range(present.shape[1]):
            single = torch.zeros_like(present)
            single[:, k] = present[:, k]
            weight = share * present[:, k].float()
            parts.append(same_rows(single, present & present[:, k:k + 1], recon=weight, prior=weight))
        return self.backbone.routed_loss(batch, Routes.cat(parts), product)

    def aggregate_for_inference(self, mu, logvar, mask):
        return mixture_component(mu, logvar, mask)
