"""HELVAE (Vo & Valera 2026): Hellinger aggregation of all modalities in training, reconstruction of every
modality, prior on the full-set latent only; subset posteriors are Hellinger aggregates (spec 3.4)."""
from __future__ import annotations

from methods.backbone.aggregation import hellinger
from methods.base import METHODS, Method
from methods.routing import same_rows


@METHODS.register("helvae")
class Helvae(Method):
    needs_full_tuples = True  # the joint term needs every modality (paper §6.3)
    summary = "HELVAE: Hellinger aggregation of all modalities; prior on the full-set latent"

    def objective(self, batch, stage):
        present = self.present_mask(batch).T
        return self.backbone.routed_loss(batch, same_rows(present, present, prior=1.0), hellinger)

    def aggregate_for_inference(self, mu, logvar, mask):
        return hellinger(mu, logvar, mask)
