"""Linear-path flow matching: timesteps, the conditional flow-matching loss, the ELBO weight of the prior
term (paper App. C, Eqs. 44-52) and the Euler sampler. Convention: τ = 0 is data, τ = 1 is noise."""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

VelocityFn = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class Timesteps:
    """Logit-normal timestep distribution τ = sigmoid(n), n ~ N(mean, std²), clamped to [t_min, t_max]."""

    mean: float = 0.0
    std: float = 1.0
    t_min: float = 1e-3
    t_max: float = 1.0 - 1e-3

    def sample(self, n: int, device: torch.device | str = "cpu") -> Tensor:
        t = torch.sigmoid(self.mean + self.std * torch.randn(n, device=device))
        return t.clamp(self.t_min, self.t_max)

    def density(self, t: Tensor) -> Tensor:
        logit = torch.log(t) - torch.log1p(-t)
        gauss = torch.exp(-0.5 * ((logit - self.mean) / self.std) ** 2) / (self.std * math.sqrt(2 * math.pi))
        return gauss / (t * (1 - t))


def elbo_weight(t: Tensor, timesteps: Timesteps, clip: float) -> Tensor:
    """Importance factor w(τ) = (1-τ) / (τ p(τ)) turning the velocity loss at τ ~ p into the continuous-time
    ELBO of the linear path (Eq. 50). It is heavy-tailed near τ = 0, so it is clipped at `clip` (0: no clip)."""
    w = (1 - t) / (t * timesteps.density(t))
    return w.clamp_max(clip) if clip > 0 else w


class _ScaleGrad(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, scale: Tensor) -> Tensor:
        ctx.save_for_backward(scale)
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        (scale,) = ctx.saved_tensors
        return grad * scale, None


def scale_grad(x: Tensor, scale: Tensor) -> Tensor:
    """GS_g: the identity in the forward pass; multiplies the incoming gradient by `scale` (Eq. 51)."""
    return _ScaleGrad.apply(x, scale.detach())


def _broadcast(t: Tensor, like: Tensor) -> Tensor:
    return t.reshape(-1, *([1] * (like.dim() - 1)))


def cfm_loss(velocity: VelocityFn, x0: Tensor, t: Tensor) -> Tensor:
    """Conditional flow matching on the linear path x_τ = (1-τ)x0 + τε, target ε - x0 (Eqs. 44-45, 54-55).
    Returns one value per row, summed over the data dimensions."""
    noise = torch.randn_like(x0)
    tb = _broadcast(t, x0)
    x_t = (1 - tb) * x0 + tb * noise
    error = velocity(x_t, t) - (noise - x0)
    return error.square().flatten(1).sum(1)


def euler_sample(velocity: VelocityFn, noise: Tensor, steps: int) -> Tensor:
    """Integrate dx/dτ = v(x, τ) from τ = 1 (noise) to τ = 0 (data) with `steps` Euler steps."""
    x = noise
    grid = torch.linspace(1.0, 0.0, steps + 1, device=noise.device)
    for i in range(steps):
        t = grid[i].expand(x.shape[0])
        x = x + (grid[i + 1] - grid[i]) * velocity(x, t)
    return x
