"""MUNI (paper Eq. 12): non-mixture aggregation, target-detached self-reconstruction, and prior learning on
the full-set and leave-one-out latents only, with reconstruction and prior routes sampled 3:2 (App. E.2)."""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from methods.backbone.aggregation import hellinger, mixture_component, product
from methods.backbone.model import Routes
from methods.base import METHODS, Method
from methods.routing import choose, enumerate_routes, per_sample_share, subset_table, uniform_member

AGGREGATIONS = {"product": product, "hellinger": hellinger, "mixture": mixture_component}
PRIOR_SUBSETS = ("full_and_leave_one_out", "all", "full")
ROUTE_MODES = ("mc", "exact")
TARGET_WEIGHTS = ("sum", "mean")


@dataclass
class MuniOptions:
    aggregation: str = "product"  # product | hellinger | mixture (the last is an ablation)
    detach_self: bool = True  # target-detached self-reconstruction (Eq. 11)
    prior_subsets: str = "full_and_leave_one_out"  # which subset latents train the prior (Eq. 15)
    route_mode: str = "mc"  # mc: sampled routes per sample; exact: every route, weighted
    routes_per_sample: int = 1  # mc routes drawn per sample and step, each weighted 1/R (the paper: one)
    target_weight: str = "sum"  # sum: Eq. 12 sums over targets, so a sampled target weighs |observed|;
    # mean: weight 1, an average over targets (a prior-heavier balance than Eq. 12)
    recon_fraction: float = 0.6  # reconstruction : prior routes = 3 : 2

    def __post_init__(self):
        for value, allowed, field in ((self.aggregation, AGGREGATIONS, "aggregation"),
                                      (self.prior_subsets, PRIOR_SUBSETS, "prior_subsets"),
                                      (self.route_mode, ROUTE_MODES, "route_mode"),
                                      (self.target_weight, TARGET_WEIGHTS, "target_weight")):
            if value not in allowed:
                raise ValueError(f"{field} must be one of {', '.join(allowed)}, not '{value}'")
        if not 0.0 <= self.recon_fraction <= 1.0:
            raise ValueError(f"recon_fraction must lie in [0, 1], not {self.recon_fraction}")
        if self.routes_per_sample < 1:
            raise ValueError(f"routes_per_sample must be at least 1, not {self.routes_per_sample}")


def muni_routes(present: Tensor, options: MuniOptions) -> Routes:
    """Reconstruction routes (S, m) over all non-empty observed S and observed targets m, and prior routes
    over the prior subsets the sample observes; sampled per sample ("mc") or enumerated with weights."""
    k, n = present.shape
    recon_table = subset_table("all", k, present.device)
    prior_table = subset_table(options.prior_subsets, k, present.device)
    if options.route_mode == "exact":
        routes = exact_routes(present, recon_table, prior_table, options.recon_fraction)
    else:
        draws = [sampled_routes(present, recon_table, prior_table, options.recon_fraction)
                 for _ in range(options.routes_per_sample)]
        routes = draws[0] if len(draws) == 1 else Routes.cat(draws)
        routes.recon_weight /= len(draws)
        routes.prior_weight /= len(draws)
    if options.target_weight == "sum":  # Eq. 12: Σ_m over targets; a route's target stands for all observed
        routes.recon_weight *= present.sum(0)[routes.sample].float()
    routes.detach = routes.subset & routes.targets if options.detach_self else None
    return routes


def sampled_routes(present: Tensor, recon_table: Tensor, prior_table: Tensor, recon_fraction: float) -> Routes:
    """One route per sample: a prior route with probability 1 - recon_fraction (where the sample observes a
    prior subset), else a reconstruction route with a uniform subset and one uniform observed target."""
    n = present.shape[1]
    prior_subset, has_prior = choose(prior_table, present)
    is_prior = has_prior & (torch.rand(n, device=present.device) >= recon_fraction)
    recon_subset, _ = choose(recon_table, present)
    subset = torch.where(is_prior[:, None], prior_subset, recon_subset)
    targets = uniform_member(present) & ~is_prior[:, None]
    return Routes(torch.arange(n, device=present.device), subset, targets, (~is_prior).float(), is_prior.float())


def exact_routes(present: Tensor, recon_table: Tensor, prior_table: Tensor, recon_fraction: float) -> Routes:
    """Every route of every sample, weighted so that a sample's reconstruction routes share recon_fraction
    and its prior routes the rest (all reconstruction when it observes no prior subset)."""
    n = present.shape[1]
    r_sample, r_subset, r_target = enumerate_routes(recon_table, present, with_targets=True)
    p_sample, p_subset, p_target = enumerate_routes(prior_table, present, with_targets=False)
    has_prior = torch.zeros(n, dtype=torch.bool, device=present.device)
    has_prior[p_sample] = True
    recon_share = torch.where(has_prior, recon_fraction, 1.0)
    recon = Routes(r_sample, r_subset, r_target, per_sample_share(r_sample, recon_share, n),
                   torch.zeros(len(r_sample), device=present.device))
    prior = Routes(p_sample, p_subset, p_target, torch.zeros(len(p_sample), device=present.device),
                   per_sample_share(p_sample, 1.0 - recon_share, n))
    return Routes.cat([recon, prior])


@METHODS.register("muni")
class Muni(Method):
    summary = "MUNI: product aggregation, target-detached self-recon, prior on full + leave-one-out latents"
    Options = MuniOptions

    def objective(self, batch, stage):
        routes = muni_routes(self.present_mask(batch), self.options)
        return self.backbone.routed_loss(batch, routes, self.aggregate)

    def aggregate(self, mu: Tensor, logvar: Tensor, mask: Tensor):
        return AGGREGATIONS[self.options.aggregation](mu, logvar, mask)

    def aggregate_for_inference(self, mu, logvar, mask):
        return self.aggregate(mu, logvar, mask)
