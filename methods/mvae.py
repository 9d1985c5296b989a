"""MVAE (Wu & Goodman 2018): product of experts with the N(0, I) prior expert in every subset; the ELBO of
the full set, of every singleton and of `random_subsets` random subsets of intermediate size, each subset
reconstructing only its own modalities (spec 3.1). The random subset is drawn per sample by default, or once per
batch (`subset_draw=batch`, as MultiVae does; samples that do not observe it skip the term)."""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch

from methods.backbone.aggregation import product
from methods.backbone.model import Routes
from methods.base import METHODS, Method
from methods.routing import choose, same_rows, subset_table


@dataclass
class MvaeOptions:
    random_subsets: int = 1  # subsets of size 2..M-1 drawn per step (the original's k)
    subset_draw: str = "sample"  # "sample": each sample draws its own subset; "batch": one for the batch (MultiVae)

    def __post_init__(self):
        if self.random_subsets < 0:
            raise ValueError(f"random_subsets must be at least 0, not {self.random_subsets}")
        if self.subset_draw not in ("sample", "batch"):
            raise ValueError(f"unknown subset_draw '{self.subset_draw}'; available: sample, batch")


@METHODS.register("mvae")
class Mvae(Method):
    needs_full_tuples = True  # the joint term needs every modality (paper §6.3)
    summary = "MVAE: PoE with prior expert; subsampled subset ELBOs reconstruct only their own modalities"
    Options = MvaeOptions
    aggregate = staticmethod(partial(product, prior_expert="always"))

    def objective(self, batch, stage):
        present = self.present_mask(batch).T  # (B, K)
        parts = [same_rows(present, present, prior=1.0)]
        for k in range(present.shape[1]):
            single = torch.zeros_like(present)
            single[:, k] = present[:, k]
            parts.append(same_rows(single, single, prior=present[:, k].float()))
        middle = subset_table("proper_multi", present.shape[1], present.device)
        for _ in range(self.options.random_subsets if len(middle) else 0):
            table = middle
            if self.options.subset_draw == "batch":
                table = middle[torch.randint(len(middle), (1,), device=middle.device)]
            subset, found = choose(table, present.T)
            parts.append(same_rows(subset, subset, prior=found.float()))
        return self.backbone.routed_loss(batch, Routes.cat(parts), self.aggregate)

    def aggregate_for_inference(self, mu, logvar, mask):
        return self.aggregate(mu, logvar, mask)
