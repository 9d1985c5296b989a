import math

import pytest
import torch

from methods.backbone.aggregation import (
    detach_experts,
    full_and_leave_one_out,
    hellinger,
    mixture_component,
    nonempty_subsets,
    product,
    random_nonempty_subset,
)

GRID = torch.linspace(-12, 12, 200_001, dtype=torch.float64)


def density(mu, var):
    return torch.exp(-0.5 * (GRID - mu) ** 2 / var) / math.sqrt(2 * math.pi * var)


def moments(p):
    p = p / torch.trapezoid(p, GRID)
    mean = torch.trapezoid(p * GRID, GRID)
    return float(mean), float(torch.trapezoid(p * (GRID - mean) ** 2, GRID))


def experts_1d(mus, variances):
    mu = torch.tensor(mus, dtype=torch.float64).reshape(-1, 1, 1)
    logvar = torch.tensor(variances, dtype=torch.float64).log().reshape(-1, 1, 1)
    return mu, logvar, torch.ones(len(mus), 1, dtype=torch.bool)


def test_subset_tables():
    assert nonempty_subsets(3).shape == (7, 3)
    p = full_and_leave_one_out(3)
    assert sorted(map(tuple, p.int().tolist())) == [(0, 1, 1), (1, 0, 1), (1, 1, 0), (1, 1, 1)]


@pytest.mark.parametrize("rule", [product, hellinger])
def test_one_expert_returns_itself(rule):
    mu, logvar = torch.randn(1, 5, 48), torch.randn(1, 5, 48)
    q = rule(mu, logvar, torch.ones(1, 5, dtype=torch.bool))
    torch.testing.assert_close(q.mu, mu[0])
    torch.testing.assert_close(q.logvar, logvar[0], atol=1e-5, rtol=1e-5)


def test_product_of_identical_experts_sharpens():
    mu, logvar = torch.randn(1, 4, 48).expand(3, 4, 48), torch.randn(1, 4, 48).expand(3, 4, 48)
    q = product(mu, logvar, torch.ones(3, 4, dtype=torch.bool))
    torch.testing.assert_close(q.mu, mu[0])
    torch.testing.assert_close(q.logvar, logvar[0] - math.log(3))


def test_hellinger_of_identical_experts_does_not_sharpen():
    mu, logvar = torch.randn(1, 4, 48).expand(3, 4, 48), torch.randn(1, 4, 48).expand(3, 4, 48)
    q = hellinger(mu, logvar, torch.ones(3, 4, dtype=torch.bool))
    torch.testing.assert_close(q.mu, mu[0], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(q.logvar, logvar[0], atol=1e-4, rtol=1e-4)


def test_product_matches_numeric_product_of_densities_1d():
    mus, variances = [0.7, -1.2, 2.0], [0.5, 1.7, 3.0]
    q = product(*experts_1d(mus, variances))
    target = density(mus[0], variances[0]) * density(mus[1], variances[1]) * density(mus[2], variances[2])
    mean, var = moments(target)
    assert float(q.mu) == pytest.approx(mean, abs=1e-6)
    assert float(q.logvar.exp()) == pytest.approx(var, rel=1e-5)


def test_hellinger_matches_brute_force_moment_match_1d():
    mus, variances = [0.7, -1.2, 2.0], [0.5, 1.7, 3.0]
    q = hellinger(*experts_1d(mus, variances))
    root_sum = sum(density(m, v).sqrt() for m, v in zip(mus, variances))
    mean, var = moments(root_sum ** 2)
    assert float(q.mu) == pytest.approx(mean, abs=1e-6)
    assert float(q.logvar.exp()) == pytest.approx(var, rel=1e-5)


def test_hellinger_of_disagreeing_experts_is_the_moment_matched_mixture():
    mu = torch.stack([torch.full((1, 48), -5.0), torch.full((1, 48), 5.0)])
    logvar = torch.full((2, 1, 48), math.log(0.1))
    q = hellinger(mu, logvar, torch.ones(2, 1, dtype=torch.bool))
    torch.testing.assert_close(q.mu, torch.zeros(1, 48), atol=1e-5, rtol=0)
    torch.testing.assert_close(q.logvar.exp(), torch.full((1, 48), 25.1), rtol=1e-4, atol=0)


def test_hellinger_is_numerically_safe_in_48_dimensions():
    mu = (torch.randn(3, 64, 48) * 30).requires_grad_()
    logvar = (torch.randn(3, 64, 48) * 6).requires_grad_()
    q = hellinger(mu, logvar, (torch.rand(3, 64) < 0.8) | torch.eye(3, 64, dtype=torch.bool))
    (q.mu.sum() + q.logvar.sum()).backward()
    assert torch.isfinite(q.mu).all() and torch.isfinite(q.logvar).all()
    assert torch.isfinite(mu.grad).all() and torch.isfinite(logvar.grad).all()


def test_masked_experts_are_ignored():
    mu, logvar = torch.randn(3, 6, 8), torch.randn(3, 6, 8)
    mask = torch.tensor([True, False, True])[:, None].expand(3, 6)
    for rule in (product, hellinger):
        full = rule(mu[[0, 2]], logvar[[0, 2]], torch.ones(2, 6, dtype=torch.bool))
        masked = rule(mu, logvar, mask)
        torch.testing.assert_close(masked.mu, full.mu)
        torch.testing.assert_close(masked.logvar, full.logvar)


def test_prior_expert_rules():
    mu, logvar = torch.randn(3, 2, 4), torch.randn(3, 2, 4)
    zeros = torch.zeros(1, 2, 4)
    full = torch.ones(3, 2, dtype=torch.bool)
    pair = torch.tensor([[True, True], [True, True], [False, False]])
    with_prior = product(torch.cat([mu, zeros]), torch.cat([logvar, zeros]), torch.ones(4, 2, dtype=torch.bool))
    torch.testing.assert_close(product(mu, logvar, full, prior_expert="always").mu, with_prior.mu)
    torch.testing.assert_close(product(mu, logvar, full, prior_expert="full").mu, with_prior.mu)
    torch.testing.assert_close(product(mu, logvar, pair, prior_expert="full").mu, product(mu, logvar, pair).mu)
    assert not torch.allclose(product(mu, logvar, pair, prior_expert="always").mu, product(mu, logvar, pair).mu)


def test_detach_experts_stops_only_marked_gradients():
    mu, logvar = torch.randn(3, 2, 4, requires_grad=True), torch.randn(3, 2, 4, requires_grad=True)
    detach = torch.tensor([[True, False], [False, False], [False, True]])
    dm, dl = detach_experts(mu, logvar, detach)
    torch.testing.assert_close(dm, mu)
    (dm.sum() + dl.sum()).backward()
    assert (mu.grad[0, 0] == 0).all() and (mu.grad[2, 1] == 0).all() and (mu.grad[1] == 1).all()
    assert (logvar.grad[0, 0] == 0).all() and (logvar.grad[0, 1] == 1).all()


def test_mixture_component_picks_one_present_expert():
    mu, logvar = torch.randn(3, 500, 4), torch.randn(3, 500, 4)
    mask = torch.tensor([True, False, True])[:, None].expand(3, 500)
    q = mixture_component(mu, logvar, mask)
    from_first = (q.mu == mu[0]).all(-1)
    from_third = (q.mu == mu[2]).all(-1)
    assert (from_first ^ from_third).all()
    assert 0.4 < from_first.float().mean() < 0.6


def test_random_nonempty_subset_is_uniform_and_inside_the_mask():
    mask = torch.ones(3, 70_000, dtype=torch.bool)
    mask[2, :10_000] = False
    chosen = random_nonempty_subset(mask)
    assert chosen.any(0).all() and not (chosen & ~mask).any()
    codes = (chosen[:, 10_000:].int() * torch.tensor([[1], [2], [4]])).sum(0)
    counts = torch.bincount(codes, minlength=8)[1:].float()
    assert (counts / counts.sum() - 1 / 7).abs().max() < 0.01
