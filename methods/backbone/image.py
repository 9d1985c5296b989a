"""Networks for image modalities (paper App. E.1): a ResNet encoder trunk shared by every image modality with
modality-specific input and posterior heads, and one flow-matching U-Net decoder shared by every image
modality and told which one to draw. For image modalities `*_width` is the channel count at full resolution
and `*_blocks` the residual blocks per resolution."""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.flow import cfm_loss, euler_sample
from methods.backbone.nets import CountsExamples, TimeEmbedding


def group_norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(math.gcd(8, channels), channels)


def level_channels(size: int, width: int, max_mult: int) -> list[int]:
    """Channels per resolution, from `size` down to 4×4: `width`, doubling per halving up to max_mult·width."""
    channels, mult = [], 1
    while True:
        channels.append(width * mult)
        if size <= 4:
            return channels
        size, mult = size // 2, min(2 * mult, max_mult)


class ResBlock(nn.Module):
    """Two GroupNorm-SiLU-conv layers with a skip; the conditioning vector adds a per-channel shift."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int):
        super().__init__()
        self.norm1, self.conv1 = group_norm(c_in), nn.Conv2d(c_in, c_out, 3, padding=1)
        self.cond = nn.Linear(cond_dim, c_out)
        self.norm2, self.conv2 = group_norm(c_out), nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        h = self.conv1(nn.functional.silu(self.norm1(x))) + self.cond(c)[:, :, None, None]
        h = self.conv2(nn.functional.silu(self.norm2(h)))
        return self.skip(x) + h


class ImageEncoderTrunk(nn.Module):
    """The shared ResNet: residual blocks conditioned on a learned modality embedding, strided convolutions
    down to 4×4, and the 4×4 map flattened (pooling it away would lose where the digit is)."""

    def __init__(self, size: int, n_modalities: int, cfg: ModelConfig):
        super().__init__()
        width = cfg.encoder_width
        self.modality = nn.Embedding(n_modalities, width)
        channels = level_channels(size, width, max_mult=4)
        self.levels = nn.ModuleList()
        self.downs = nn.ModuleList()
        for i, ch in enumerate(channels):
            c_in = channels[i - 1] if i else width
            self.levels.append(nn.ModuleList([ResBlock(c_in if b == 0 else ch, ch, width)
                                              for b in range(cfg.encoder_blocks)]))
            if i + 1 < len(channels):
                self.downs.append(nn.Conv2d(ch, ch, 3, stride=2, padding=1))
        self.norm = group_norm(channels[-1])
        self.out_dim = channels[-1] * 16
        self.width = width

    def forward(self, h: Tensor, index: int) -> Tensor:
        # a lookup, not weight[index]: a view of a parameter taken under no_grad breaks torch's FLOP counter
        c = self.modality(torch.full((h.shape[0],), index, dtype=torch.long, device=h.device))
        for i, blocks in enumerate(self.levels):
            for block in blocks:
                h = block(h, c)
            if i < len(self.downs):
                h = self.downs[i](h)
        return nn.functional.silu(self.norm(h)).flatten(1)


class ImageEncoder(nn.Module):
    """One image modality's encoder: its own input convolution and posterior head around the shared trunk."""

    def __init__(self, trunk: ImageEncoderTrunk, index: int, channels: int, out_dim: int):
        super().__init__()
        self.trunk, self.index = trunk, index
        self.inp = nn.Conv2d(channels, trunk.width, 3, padding=1)
        self.head = nn.Linear(trunk.out_dim, out_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.trunk(self.inp(x), self.index))


class FlowUNet(nn.Module):
    """v(x_τ, τ, z, modality): a residual U-Net (the paper uses NCSN++; this one has no attention) whose blocks
    all receive emb(τ) + W z + emb(modality)."""

    def __init__(self, shape: tuple[int, ...], cond_dim: int, n_modalities: int, cfg: ModelConfig):
        super().__init__()
        channels_in, size = shape[0], shape[-1]
        width, blocks, c_dim = cfg.decoder_width, cfg.decoder_blocks, cfg.time_dim
        self.time = TimeEmbedding(c_dim)
        self.latent = nn.Linear(cond_dim, c_dim)
        self.modality = nn.Embedding(n_modalities, c_dim)
        channels = level_channels(size, width, max_mult=2)
        self.inp = nn.Conv2d(channels_in, width, 3, padding=1)
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        for i, ch in enumerate(channels):
            c_in = channels[i - 1] if i else width
            self.down.append(nn.ModuleList([ResBlock(c_in if b == 0 else ch, ch, c_dim) for b in range(blocks)]))
            c_up = channels[i + 1] if i + 1 < len(channels) else ch
            self.up.append(nn.ModuleList([ResBlock((c_up if b == 0 else ch) + (ch if b == 0 else 0), ch, c_dim)
                                          for b in range(blocks)]))
        self.middle = ResBlock(channels[-1], channels[-1], c_dim)
        self.norm = group_norm(width)
        self.out = nn.Conv2d(width, channels_in, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor, t: Tensor, z: Tensor, index: int) -> Tensor:
        c = nn.functional.silu(self.time(t) + self.latent(z) + self.modality(torch.tensor(index, device=z.device)))
        h, skips = self.inp(x), []
        for i, blocks in enumerate(self.down):
            for block in blocks:
                h = block(h, c)
            skips.append(h)
            if i + 1 < len(self.down):
                h = nn.functional.avg_pool2d(h, 2)
        h = self.middle(h, c)
        for i in reversed(range(len(self.up))):
            if i + 1 < len(self.up):
                h = nn.functional.interpolate(h, scale_factor=2.0, mode="nearest")
            h = torch.cat([h, skips[i]], dim=1)
            for block in self.up[i]:
                h = block(h, c)
        return self.out(nn.functional.silu(self.norm(h)))


class ImageFlowDecoder(CountsExamples):
    """p(x | z) for one image modality through the shared U-Net: CFM loss (Eq. 55), Euler sampling."""

    def __init__(self, unet: FlowUNet, index: int, shape: tuple[int, ...], flow: FlowConfig):
        super().__init__()
        self.unet, self.index, self.shape = unet, index, shape
        self.timesteps = flow.timesteps

    def loss(self, x: Tensor, cond: Tensor) -> Tensor:
        self.count(x)
        t = self.timesteps.sample(x.shape[0], x.device)
        return cfm_loss(lambda x_t, tau: self.unet(x_t, tau, cond, self.index), x, t)

    def sample(self, cond: Tensor, steps: int) -> Tensor:
        noise = torch.randn(cond.shape[0], *self.shape, device=cond.device)
        return euler_sample(lambda x_t, tau: self.unet(x_t, tau, cond, self.index), noise, steps)
