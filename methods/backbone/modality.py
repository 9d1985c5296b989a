"""Modality specs, batches, and the encoder/decoder chosen for each kind of modality."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from methods.backbone.config import FlowConfig, ModelConfig
from methods.backbone.flow import cfm_loss, euler_sample
from methods.backbone.image import FlowUNet, ImageEncoder, ImageEncoderTrunk, ImageFlowDecoder
from methods.backbone.nets import CountsExamples, ResidualMLP, VelocityMLP

Kind = Literal["vector", "image", "categorical", "sequence"]
MIN_VARIANCE = 1e-6  # floor of the closed-form decoder variance: a perfectly fitted coordinate would give log 0


class DataError(ValueError):
    """A batch does not match the modality specs (wrong shape, dtype or non-finite values)."""


@dataclass(frozen=True)
class ModalitySpec:
    name: str
    kind: Kind
    shape: tuple[int, ...] = ()
    num_classes: int = 0  # categorical only

    @property
    def size(self) -> int:
        n = 1
        for s in self.shape:
            n *= s
        return n


@dataclass
class Batch:
    """Data per modality plus a per-sample presence mask; absent modalities may be missing from `data`."""

    data: dict[str, Tensor]
    present: dict[str, Tensor] = field(default_factory=dict)

    def __post_init__(self):
        for name, x in self.data.items():
            self.present.setdefault(name, torch.ones(x.shape[0], dtype=torch.bool, device=x.device))

    @property
    def size(self) -> int:
        return next(iter(self.data.values())).shape[0]

    def to(self, device: torch.device | str) -> Batch:
        return Batch({k: v.to(device) for k, v in self.data.items()},
                     {k: v.to(device) for k, v in self.present.items()})

    def select(self, rows: Tensor | slice) -> Batch:
        return Batch({k: v[rows] for k, v in self.data.items()}, {k: v[rows] for k, v in self.present.items()})


def check_batch(specs: list[ModalitySpec], batch: Batch) -> None:
    """Raise DataError naming the modality and the problem; silent when the batch is well-formed."""
    known = {s.name for s in specs}
    for name in batch.data:
        if name not in known:
            raise DataError(f"unknown modality '{name}' in batch; this model has: {', '.join(sorted(known))}")
    sizes = {name: x.shape[0] for name, x in batch.data.items()}
    if len(set(sizes.values())) > 1:
        raise DataError(f"modalities disagree on the batch size: {sizes}")
    for spec in specs:
        x = batch.data.get(spec.name)
        if x is None:
            continue
        if tuple(x.shape[1:]) != spec.shape:
            raise DataError(f"modality '{spec.name}': expected shape (batch, {', '.join(map(str, spec.shape))})"
                            f" but got {tuple(x.shape)}")
        if spec.kind == "categorical":
            if x.dtype != torch.long:
                raise DataError(f"modality '{spec.name}': expected integer class labels, got {x.dtype}")
            bad = (x < 0) | (x >= spec.num_classes)
            if bad.any():
                raise DataError(f"modality '{spec.name}': {int(bad.sum())} labels outside [0, {spec.num_classes})")
        else:
            if not x.is_floating_point():
                raise DataError(f"modality '{spec.name}': expected floating-point values, got {x.dtype}")
            bad = ~torch.isfinite(x)
            if bad.any():
                raise DataError(f"modality '{spec.name}': {int(bad.sum())} non-finite values (NaN or inf)")


class VectorEncoder(nn.Module):
    def __init__(self, spec: ModalitySpec, out_dim: int, cfg: ModelConfig):
        super().__init__()
        self.net = ResidualMLP(spec.size, out_dim, cfg.encoder_width, cfg.encoder_blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))


class CategoricalEncoder(nn.Module):
    def __init__(self, spec: ModalitySpec, out_dim: int, cfg: ModelConfig):
        super().__init__()
        self.num_classes = spec.num_classes
        self.net = ResidualMLP(spec.num_classes, out_dim, cfg.encoder_width, cfg.encoder_blocks)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(nn.functional.one_hot(x, self.num_classes).float())


class FlowDecoder(CountsExamples):
    """p(x | cond) as a conditional flow: trained with CFM (Eq. 55), sampled with Euler steps."""

    def __init__(self, spec: ModalitySpec, cond_dim: int, cfg: ModelConfig, flow: FlowConfig):
        super().__init__()
        self.shape = spec.shape
        self.timesteps = flow.timesteps
        self.velocity = VelocityMLP(spec.size, cond_dim, cfg.decoder_width, cfg.decoder_blocks, cfg.time_dim)

    def loss(self, x: Tensor, cond: Tensor) -> Tensor:
        self.count(x)
        t = self.timesteps.sample(x.shape[0], x.device)
        return cfm_loss(lambda x_t, tau: self.velocity(x_t, tau, cond), x.flatten(1), t)

    def sample(self, cond: Tensor, steps: int) -> Tensor:
        noise = torch.randn(cond.shape[0], *self.shape, device=cond.device).flatten(1)
        x = euler_sample(lambda x_t, tau: self.velocity(x_t, tau, cond), noise, steps)
        return x.reshape(cond.shape[0], *self.shape)


class GaussianDecoder(CountsExamples):
    """The classic likelihood: x ~ N(mean(cond), diag σ²) with a per-coordinate σ.

    model.decoder_scale says how σ is fitted. "optimal" (default): σ² is set in closed form to the batch's mean
    squared residual per coordinate, the maximiser of the likelihood for the current means (calibrated decoders,
    Rybkin et al. 2021); by the envelope theorem the means then get the gradient of the likelihood at the
    optimal σ. The last batch's σ² is kept in a buffer for sampling. "learned": log σ is a parameter that the
    optimiser moves, which a short budget leaves far from its optimum. `output` is the evaluation convention
    (eval.gaussian_output): "samples" draws mean + σ·ε, "means" returns the decoder mean."""

    def __init__(self, spec: ModalitySpec, cond_dim: int, cfg: ModelConfig):
        super().__init__()
        self.shape = spec.shape
        self.scale = cfg.decoder_scale
        self.output = "samples"
        self.mean = ResidualMLP(cond_dim, spec.size, cfg.decoder_width, cfg.decoder_blocks)
        if self.scale == "learned":
            self.log_std = nn.Parameter(torch.zeros(spec.size))
        else:
            self.register_buffer("variance", torch.ones(spec.size))

    def loss(self, x: Tensor, cond: Tensor) -> Tensor:
        self.count(x)
        residual = x.flatten(1) - self.mean(cond)
        if self.scale == "learned":
            z = residual * torch.exp(-self.log_std)
            return (0.5 * z.square() + self.log_std).sum(1)
        variance = residual.detach().square().mean(0).clamp_min(MIN_VARIANCE)
        if self.training:
            self.variance.copy_(variance)
        return 0.5 * (residual.square() / variance + variance.log()).sum(1)

    @property
    def std(self) -> Tensor:
        return self.log_std.exp() if self.scale == "learned" else self.variance.sqrt()

    def sample(self, cond: Tensor, steps: int) -> Tensor:
        mean = self.mean(cond)
        if self.output == "samples":
            mean = mean + torch.randn_like(mean) * self.std
        return mean.reshape(cond.shape[0], *self.shape)


GAUSSIAN_OUTPUTS = ("samples", "means")


def set_gaussian_output(model: nn.Module, output: str) -> None:
    """Make every Gaussian decoder in `model` return samples or its means when sampled (eval.gaussian_output)."""
    if output not in GAUSSIAN_OUTPUTS:
        raise ValueError(f"unknown Gaussian decoder output '{output}'; available: {', '.join(GAUSSIAN_OUTPUTS)}")
    for module in model.modules():
        if isinstance(module, GaussianDecoder):
            module.output = output


class CategoricalDecoder(CountsExamples):
    """p(y | cond) as a classifier: cross-entropy (Eq. 56); samples a class from the softmax."""

    def __init__(self, spec: ModalitySpec, cond_dim: int, cfg: ModelConfig):
        super().__init__()
        self.logits = ResidualMLP(cond_dim, spec.num_classes, cfg.decoder_width, cfg.decoder_blocks)

    def loss(self, x: Tensor, cond: Tensor) -> Tensor:
        self.count(x)
        return nn.functional.cross_entropy(self.logits(cond), x, reduction="none")

    def sample(self, cond: Tensor, steps: int) -> Tensor:
        return torch.multinomial(torch.softmax(self.logits(cond), -1), 1).squeeze(1)


def build_encoder(spec: ModalitySpec, out_dim: int, cfg: ModelConfig) -> nn.Module:
    if spec.kind == "vector":
        return VectorEncoder(spec, out_dim, cfg)
    if spec.kind == "categorical":
        return CategoricalEncoder(spec, out_dim, cfg)
    if spec.kind == "image":
        raise NotImplementedError(f"image encoders share one trunk: build modality '{spec.name}' with build_encoders")
    raise NotImplementedError(f"no encoder for modality kind '{spec.kind}' yet (modality '{spec.name}')")


def build_decoder(spec: ModalitySpec, cond_dim: int, cfg: ModelConfig, flow: FlowConfig) -> nn.Module:
    if spec.kind == "categorical":
        return CategoricalDecoder(spec, cond_dim, cfg)
    if spec.kind == "vector":
        if cfg.backbone == "classic":
            return GaussianDecoder(spec, cond_dim, cfg)
        return FlowDecoder(spec, cond_dim, cfg, flow)
    if spec.kind == "image":
        raise NotImplementedError(f"image decoders share one U-Net: build modality '{spec.name}' with build_decoders")
    raise NotImplementedError(f"no decoder for modality kind '{spec.kind}' yet (modality '{spec.name}')")


def image_specs(specs: list[ModalitySpec]) -> tuple[list[str], tuple[int, ...]]:
    """Names of the image modalities and their common (C, H, W) shape; they must agree to share networks."""
    images = [s for s in specs if s.kind == "image"]
    shapes = {s.shape for s in images}
    if len(shapes) > 1 or any(len(s) != 3 or s[1] != s[2] for s in shapes):
        raise ValueError(f"image modalities must share one square (C, H, H) shape, got "
                         f"{', '.join(f'{s.name} {s.shape}' for s in images)}")
    return [s.name for s in images], (shapes.pop() if shapes else ())


def build_encoders(specs: list[ModalitySpec], out_dim: int, cfg: ModelConfig) -> nn.ModuleDict:
    """One encoder per modality; the image modalities share one ResNet trunk (paper App. E.1)."""
    images, shape = image_specs(specs)
    trunk = ImageEncoderTrunk(shape[-1], len(images), cfg) if images else None
    return nn.ModuleDict({s.name: ImageEncoder(trunk, images.index(s.name), s.shape[0], out_dim)
                          if s.kind == "image" else build_encoder(s, out_dim, cfg) for s in specs})


def build_decoders(specs: list[ModalitySpec], cond_dim: int, cfg: ModelConfig, flow: FlowConfig) -> nn.ModuleDict:
    """One decoder per modality; the image modalities share one flow U-Net told which one to draw (App. E.1)."""
    images, shape = image_specs(specs)
    if images and cfg.backbone == "classic":
        raise NotImplementedError("model.backbone=classic has no image decoder; use model.backbone=flow")
    unet = FlowUNet(shape, cond_dim, len(images), cfg) if images else None
    return nn.ModuleDict({s.name: ImageFlowDecoder(unet, images.index(s.name), s.shape, flow)
                          if s.kind == "image" else build_decoder(s, cond_dim, cfg, flow) for s in specs})
