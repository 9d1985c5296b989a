"""MoPoE (Sutter et al. 2021): mixture of products over all non-empty subsets with the prior expert on the
full set only. The batch is partitioned over subsets for reconstruction (each latent decodes every modality);
the prior term is averaged over every subset's latent (spec 3.3)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from methods.backbone.aggregation import product
from methods.backbone.model import Routes
from methods.base import METHODS, Method
from methods.routing import enumerate_routes, per_sample_share, same_rows, subset_table, within


@dataclass
class MopoeOptions:
    prior_on: str = "all_subsets"  # all_subsets: mean over every subset latent; assigned: the sample's own

    def __post_init__(self):
        if self.prior_on not in ("all_subsets", "assigned"):
            raise ValueError(f"prior_on must be one of all_subsets, assigned, not '{self.prior_on}'")


@METHODS.register("mopoe")
class Mopoe(Method):
    summary = "MoPoE: mixture of subset products; prior trained on every subset latent"
    Options = MopoeOptions
    aggregate = staticmethod(partial(product, prior_expert="full"))

    def objective(self, batch, stage):
        present = self.present_mask(batch)
        table = subset_table("all", present.shape[0], present.device)
        n = present.shape[1]
        # deterministic batch partition: sample i uses the (i mod T)-th subset it observes
        candidates = within(table, present)
        rank = torch.arange(n, device=present.device) % candidates.sum(1).clamp_min(1)
        pick = (candidates.cumsum(1) - 1 == rank[:, None]) & candidates
        assigned = table[pick.float().argmax(1)]
        own_prior = 1.0 if self.options.prior_on == "assigned" else 0.0
        parts = [same_rows(assigned, present.T, prior=own_prior)]
        if self.options.prior_on == "all_subsets":
            sample, subset, targets = enumerate_routes(table, present, with_targets=False)
            ones = torch.ones(n, device=present.device)
            parts.append(Routes(sample, subset, targets, torch.zeros(len(sample), device=present.device),
                                per_sample_share(sample, ones, n)))
        return self.backbone.routed_loss(batch, Routes.cat(parts), self.aggregate)

    def aggregate_for_inference(self, mu, logvar, mask):
        return self.aggregate(mu, logvar, mask)
