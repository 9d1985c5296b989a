"""Networks shared by every method: residual MLPs and flow-matching velocity MLPs."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class CountsExamples(nn.Module):
    """A decoder or prior that counts the training examples its loss has seen, so a record can say how much
    data each network learned from under a budget. The count is a buffer: checkpoints keep it."""

    def __init__(self):
        super().__init__()
        self.register_buffer("examples_seen", torch.zeros((), dtype=torch.long))

    def count(self, rows: Tensor) -> None:
        self.examples_seen += rows.shape[0]


class ResidualBlock(nn.Module):
    def __init__(self, width: int):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, width)
        self.fc2 = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.fc2(nn.functional.silu(self.fc1(self.norm(x))))


class ResidualMLP(nn.Module):
    """Linear in, `blocks` pre-norm residual SiLU blocks of `width`, linear out."""

    def __init__(self, in_dim: int, out_dim: int, width: int, blocks: int, zero_out: bool = False):
        super().__init__()
        self.inp = nn.Linear(in_dim, width)
        self.blocks = nn.Sequential(*[ResidualBlock(width) for _ in range(blocks)])
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, out_dim)
        if zero_out:
            nn.init.zeros_(self.out.weight)
            nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return self.out(nn.functional.silu(self.norm(self.blocks(self.inp(x)))))


class TimeEmbedding(nn.Module):
    """Sinusoidal features of τ ∈ [0, 1] followed by a two-layer MLP."""

    def __init__(self, dim: int):
        super().__init__()
        half = dim // 2
        self.register_buffer("freqs", torch.exp(-math.log(10_000.0) * torch.arange(half) / half), persistent=False)
        self.mlp = nn.Sequential(nn.Linear(2 * half, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(self, t: Tensor) -> Tensor:
        angles = 1000.0 * t[:, None] * self.freqs[None]
        return self.mlp(torch.cat([angles.sin(), angles.cos()], dim=-1))


class ConditionedBlock(ResidualBlock):
    """A residual block whose hidden layer also receives a projection of the conditioning vector."""

    def __init__(self, width: int, cond_dim: int):
        super().__init__(width)
        self.cond = nn.Linear(cond_dim, width)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        return x + self.fc2(nn.functional.silu(self.fc1(self.norm(x)) + self.cond(c)))


class VelocityMLP(nn.Module):
    """v(x_τ, τ, cond): a residual MLP on [x_τ, emb(τ), cond], with [emb(τ), cond] also fed to every block
    (concatenating the conditioning only at the input learned markedly slower on the Gaussian-mixture suite)."""

    def __init__(self, x_dim: int, cond_dim: int, width: int, blocks: int, time_dim: int):
        super().__init__()
        self.time = TimeEmbedding(time_dim)
        c_dim = time_dim + cond_dim
        self.inp = nn.Linear(x_dim + c_dim, width)
        self.blocks = nn.ModuleList([ConditionedBlock(width, c_dim) for _ in range(blocks)])
        self.norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, x_dim)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor, cond: Tensor | None = None) -> Tensor:
        c = self.time(t) if cond is None else torch.cat([self.time(t), cond], dim=-1)
        h = self.inp(torch.cat([x, c], dim=-1))
        for block in self.blocks:
            h = block(h, c)
        return self.out(nn.functional.silu(self.norm(h)))
