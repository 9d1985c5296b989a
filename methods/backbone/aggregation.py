"""Aggregation rules: how unimodal experts combine into one subset posterior.

Every rule is a pure function of stacked experts: `mu`, `logvar` of shape (K, R, d) for K modalities and R
rows, and a boolean `mask` (K, R) saying which experts each row aggregates. Rows are independent, so a batch
of differently-routed samples is aggregated in one call (spec section 0.5).
"""
from __future__ import annotations

import itertools
import math
from typing import Literal

import torch
from torch import Tensor

from methods.backbone.gaussian import DiagGaussian

PriorExpert = Literal["never", "always", "full"]


def nonempty_subsets(k: int) -> Tensor:
    """All 2^k - 1 non-empty subsets as a (2^k - 1, k) boolean table, smallest subsets first."""
    rows = [c for size in range(1, k + 1) for c in itertools.combinations(range(k), size)]
    table = torch.zeros(len(rows), k, dtype=torch.bool)
    for i, members in enumerate(rows):
        table[i, list(members)] = True
    return table


def full_and_leave_one_out(k: int) -> Tensor:
    """The prior-learning subsets of MUNI, P = {F} ∪ {F minus m} (paper Eq. 15), as a boolean table."""
    subsets = nonempty_subsets(k)
    return subsets[subsets.sum(1) >= k - 1]


def detach_experts(mu: Tensor, logvar: Tensor, detach: Tensor) -> tuple[Tensor, Tensor]:
    """Stop the gradient of the experts marked in `detach` (K, R); the forward values are unchanged (Eq. 11)."""
    keep = ~detach[..., None]
    return torch.where(keep, mu, mu.detach()), torch.where(keep, logvar, logvar.detach())


def product(mu: Tensor, logvar: Tensor, mask: Tensor, prior_expert: PriorExpert = "never") -> DiagGaussian:
    """Product of experts: precisions add, means are precision-weighted.

    `prior_expert` adds the N(0, I) expert to every row ("always", MVAE) or only to rows that aggregate all K
    experts ("full", MoPoE).
    """
    if prior_expert != "never":
        with_prior = torch.ones_like(mask[0]) if prior_expert == "always" else mask.all(0)
        mu = torch.cat([mu, torch.zeros_like(mu[:1])])
        logvar = torch.cat([logvar, torch.zeros_like(logvar[:1])])
        mask = torch.cat([mask, with_prior[None]])
    log_precision = (-logvar).masked_fill(~mask[..., None], -math.inf)
    logvar_s = -torch.logsumexp(log_precision, dim=0)
    weights = torch.softmax(log_precision, dim=0)
    mu_s = (weights * torch.where(mask[..., None], mu, torch.zeros_like(mu))).sum(0)
    return DiagGaussian(mu_s, logvar_s)


def hellinger(mu: Tensor, logvar: Tensor, mask: Tensor, min_var: float = 1e-6) -> DiagGaussian:
    """Hellinger (Hölder α = 1/2) pooling, moment-matched: the Gaussian closest to (Σ_i √q_i)², normalised.

    √(q_i q_j) = BC_ij · N(μ_ij, v_ij) with BC_ij the Bhattacharyya coefficient over all latent dimensions;
    computed in float64 with BC in log space so that 48-dimensional products underflow to zero, not NaN.
    The cross terms are symmetric, so each unordered pair i < j is computed once and counted twice.
    """
    dtype = mu.dtype
    mu, logvar = mu.double(), logvar.double()
    m = mask[..., None].double()
    i, j = torch.triu_indices(mu.shape[0], mu.shape[0], 1, device=mu.device)
    lv_i, lv_j, mu_i, mu_j = logvar[i], logvar[j], mu[i], mu[j]
    log_var_sum = torch.logaddexp(lv_i, lv_j)
    log_bc = (0.5 * (math.log(2.0) + 0.5 * (lv_i + lv_j) - log_var_sum)
              - (mu_i - mu_j).square() * (-log_var_sum).exp() / 4).sum(-1)
    bc = 2.0 * (log_bc.exp() * (mask[i] & mask[j]))[..., None]  # both orders (i, j) and (j, i)
    mu_ij = mu_i * torch.sigmoid(lv_j - lv_i) + mu_j * torch.sigmoid(lv_i - lv_j)
    v_ij = 2.0 * torch.exp(-torch.logaddexp(-lv_i, -lv_j))
    z = m.sum(0) + bc.sum(0)
    mean = ((mu * m).sum(0) + (bc * mu_ij).sum(0)) / z
    second = (((mu.square() + logvar.exp()) * m).sum(0) + (bc * (mu_ij.square() + v_ij)).sum(0)) / z
    var = (second - mean.square()).clamp_min(min_var)
    return DiagGaussian(mean.to(dtype), var.log().to(dtype))


def mixture_component(mu: Tensor, logvar: Tensor, mask: Tensor) -> DiagGaussian:
    """Mixture of experts, sampled: each row takes one of its experts uniformly (MMVAE)."""
    rows = torch.arange(mask.shape[1], device=mask.device)
    chosen = torch.multinomial(mask.T.float(), 1).squeeze(1)
    return DiagGaussian(mu[chosen, rows], logvar[chosen, rows])


def random_nonempty_subset(mask: Tensor) -> Tensor:
    """A uniformly drawn non-empty subset of each row's experts, as a (K, R) mask."""
    chosen = mask & (torch.rand(mask.shape, device=mask.device) < 0.5)
    empty = ~chosen.any(0)
    while empty.any():
        redraw = mask & (torch.rand(mask.shape, device=mask.device) < 0.5)
        chosen = torch.where(empty[None], redraw, chosen)
        empty = ~chosen.any(0)
    return chosen


def mixture_of_products(mu: Tensor, logvar: Tensor, mask: Tensor) -> DiagGaussian:
    """Mixture of products over subsets, sampled: a random non-empty subset per row, then its product with
    the prior expert on the full set only (MoPoE)."""
    return product(mu, logvar, random_nonempty_subset(mask), prior_expert="full")
