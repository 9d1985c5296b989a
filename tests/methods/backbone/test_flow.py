import math

import pytest
import torch

from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.flow import Timesteps, cfm_loss, elbo_weight, euler_sample, scale_grad
from methods.backbone.gaussian import DiagGaussian
from methods.backbone.prior import FlowPrior


def test_logit_normal_density_integrates_to_one():
    ts = Timesteps(mean=0.3, std=1.2)
    t = torch.linspace(1e-7, 1 - 1e-7, 2_000_001, dtype=torch.float64)
    assert float(torch.trapezoid(ts.density(t), t)) == pytest.approx(1.0, abs=1e-4)


def test_timesteps_are_clamped():
    t = Timesteps(t_min=0.01, t_max=0.9).sample(100_000)
    assert float(t.min()) >= 0.01 and float(t.max()) <= 0.9


def test_scale_grad_is_identity_forward_and_scales_backward():
    x = torch.randn(5, 3, requires_grad=True)
    g = torch.arange(1.0, 6.0)[:, None]
    y = scale_grad(x, g)
    assert torch.equal(y, x)
    (y * torch.ones(5, 3) * 2).sum().backward()
    torch.testing.assert_close(x.grad, 2 * g.expand(5, 3))


def test_elbo_weight_importance_correction_matches_uniform_time_estimator():
    """E_{τ~p}[w(τ) f(τ)] equals E_{τ~U(0,1)}[(1-τ)/τ · f(τ)] (Eq. 50); with f(τ) = τ(1+τ) both are 2/3."""
    ts = Timesteps(mean=0.0, std=1.0, t_min=1e-6, t_max=1 - 1e-6)
    torch.manual_seed(1)
    t = ts.sample(4_000_000).double()
    f = lambda u: u * (1 + u)  # noqa: E731
    weighted = float((elbo_weight(t, ts, clip=0.0) * f(t)).mean())
    u = torch.rand(4_000_000, dtype=torch.float64)
    uniform = float(((1 - u) / u * f(u)).mean())
    assert uniform == pytest.approx(2 / 3, rel=0.01)
    assert weighted == pytest.approx(uniform, rel=0.01)


def test_elbo_weight_values_and_clip():
    ts = Timesteps()
    t = torch.tensor([0.5, 0.1, 0.01])
    w = elbo_weight(t, ts, clip=0.0)
    assert w.tolist() == pytest.approx([0.6267, 22.7, 9.5e4], rel=0.02)
    assert elbo_weight(t, ts, clip=100.0).max() == 100.0


def test_euler_sampler_integrates_a_constant_velocity_exactly():
    noise = torch.randn(4, 3)
    out = euler_sample(lambda x, t: torch.full_like(x, 2.0), noise, steps=7)
    torch.testing.assert_close(out, noise - 2.0)


def test_cfm_loss_is_zero_for_the_true_velocity_of_a_point_mass():
    x0 = torch.randn(6, 3)
    # for data x0 the exact velocity at x_t is (x_t - x0) / t
    loss = cfm_loss(lambda x_t, t: (x_t - x0) / t[:, None], x0, torch.rand(6) * 0.9 + 0.05)
    torch.testing.assert_close(loss, torch.zeros(6), atol=1e-8, rtol=0)


def test_prior_grad_scale_leaves_forward_and_prior_gradient_unchanged_and_scales_the_encoder():
    small = ModelConfig(prior_width=32, prior_blocks=1, time_dim=16)
    flow = FlowConfig(encoder_grad_scale=0.3, weight_clip=0.0)
    prior = FlowPrior(8, small, flow)
    z0 = torch.randn(16, 8, requires_grad=True)
    posterior = DiagGaussian(torch.zeros(16, 8), torch.zeros(16, 8))

    torch.manual_seed(5)
    scaled = prior.loss(posterior, z0)["prior_cfm"]
    scaled.sum().backward()
    grad_prior_scaled = [p.grad.clone() for p in prior.parameters()]
    grad_z_scaled = z0.grad.clone()

    prior.zero_grad()
    z0.grad = None
    torch.manual_seed(5)
    t = prior.timesteps.sample(16)
    plain = cfm_loss(lambda z_t, tau: prior.velocity(z_t, tau), z0, t)
    plain.sum().backward()
    g = 0.3 * elbo_weight(t, prior.timesteps, 0.0)

    torch.testing.assert_close(scaled, plain)
    for a, p in zip(grad_prior_scaled, prior.parameters()):
        torch.testing.assert_close(a, p.grad)
    torch.testing.assert_close(grad_z_scaled, g[:, None] * z0.grad)


def test_prior_entropy_term_is_beta_times_negative_entropy():
    prior = FlowPrior(4, ModelConfig(prior_width=16, prior_blocks=1, time_dim=8), FlowConfig(encoder_grad_scale=0.2))
    q = DiagGaussian(torch.zeros(3, 4), torch.full((3, 4), math.log(2.0)))
    out = prior.loss(q, q.rsample())
    expected = -0.2 * 0.5 * 4 * (math.log(2.0) + 1 + math.log(2 * math.pi))
    torch.testing.assert_close(out["prior_neg_entropy"], torch.full((3,), expected))
