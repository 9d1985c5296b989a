"""The training loop shared by every method: AdamW, linear warmup, gradient clipping, EMA weights for
evaluation, a stop on non-finite losses, progress, and resumable checkpoints (bench/run/checkpoint.py)."""
from __future__ import annotations

import contextlib
import copy
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.run.checkpoint import load_checkpoint, random_state, restore_random_state, save_checkpoint
from methods.base import Method
from tasks.base import Suite

if TYPE_CHECKING:
    from bench.core.config import TrainConfig

LogFn = Callable[[dict[str, float], int], None]
StepFn = Callable[[int, dict[str, float] | None], None]  # (step, loss terms at logging steps, else None)
CheckFn = Callable[[int, "EMA"], dict | None]  # (step, EMA model) -> a result to keep, or None


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; training stops instead of producing numbers."""


@dataclass
class TrainSummary:
    steps: int = 0
    resumed_from: int = 0
    final_terms: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    samples_per_second: float = 0.0
    notes: list[str] = field(default_factory=list)  # e.g. a corrupt checkpoint that was set aside
    loss_curve: list[list[float]] = field(default_factory=list)  # [step, total loss] at every logging step
    progress: list[dict] = field(default_factory=list)  # what `check` returned during training
    counted_flops: dict[str, list[float]] = field(default_factory=dict)  # stage -> [FLOPs summed, steps counted]
    stage_steps: dict[str, int] = field(default_factory=dict)

    @property
    def flops(self) -> float | None:
        """Training FLOPs: each stage's mean counted FLOPs per step times the steps it trained; None if a stage
        that trained was never counted."""
        total = 0.0
        for stage, steps in self.stage_steps.items():
            if steps == 0:
                continue
            if stage not in self.counted_flops:
                return None
            summed, counted = self.counted_flops[stage]
            total += steps * summed / counted
        return total


def flatten_parameters(module: torch.nn.Module) -> torch.Tensor:
    """Move every parameter of `module` into one contiguous buffer, each parameter becoming a view of it, and
    return the buffer: whole-model updates (the EMA) are then one operation instead of one per tensor."""
    params = list(module.parameters())
    if len({(p.dtype, p.device) for p in params}) > 1:
        raise ValueError("flatten_parameters needs every parameter on one device with one dtype")
    flat = torch.cat([p.detach().reshape(-1) for p in params])
    offset = 0
    for p in params:
        p.data = flat[offset:offset + p.numel()].view_as(p)
        offset += p.numel()
    return flat


class EMA(torch.nn.Module):
    """Exponential moving average of a model's weights for evaluation, with the usual warm-up so early
    evaluations are not dominated by the initialisation; floating buffers are averaged too. The state dict
    matches torch's AveragedModel ("module.*", "n_averaged"). The model's parameters and the copy's live in
    flat buffers (see flatten_parameters), so an update is one lerp."""

    def __init__(self, model: torch.nn.Module, decay: float):
        super().__init__()
        self.decay = decay
        self.source = flatten_parameters(model)
        self.module = copy.deepcopy(model)
        self.target = flatten_parameters(self.module)
        pairs = [(mine, theirs) for mine, theirs in zip(self.module.buffers(), model.buffers())
                 if mine.is_floating_point()]
        self.targets = [self.target, *(mine for mine, _ in pairs)]
        self.sources = [self.source, *(theirs for _, theirs in pairs)]
        self.register_buffer("n_averaged", torch.tensor(0, dtype=torch.long))

    @torch.no_grad()
    def update_parameters(self, model: torch.nn.Module) -> None:
        step = int(self.n_averaged)
        if step == 0:
            torch._foreach_copy_(self.targets, self.sources)
        else:
            torch._foreach_lerp_(self.targets, self.sources, 1.0 - min(self.decay, (1.0 + step) / (10.0 + step)))
        self.n_averaged += 1


class CellInterrupted(Exception):
    """The run was asked to stop (Ctrl-C); the cell's last checkpoint stays for a resume."""


def make_optimizer(params: list[torch.nn.Parameter], cfg: TrainConfig):
    """AdamW with a linear warmup to a constant learning rate (paper Tab. E.2)."""
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2), weight_decay=cfg.weight_decay,
                                  fused=True)  # fused: about 4x faster than the default on CPU
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: min(1.0, (s + 1) / max(1, cfg.warmup_steps)))
    return optimizer, schedule


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """train.precision: "bf16" runs the forward pass under torch.autocast to bfloat16 (matmuls and convolutions
    in bf16; weights, gradients, optimizer and EMA stay fp32); "fp32" leaves everything in fp32."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


def training_step(method: Method, batch, stage: str, optimizer, schedule, params, grad_clip: float,
                  ema: EMA | None, step: int, precision: str = "fp32") -> dict[str, torch.Tensor]:
    """One optimisation step; stops with TrainingDiverged on a non-finite loss."""
    with autocast(params[0].device, precision):
        terms = method.loss(batch, stage)
    loss = terms["loss"]
    if not torch.isfinite(loss):
        shown = ", ".join(f"{k}={float(v.detach()):.4g}" for k, v in terms.items())
        raise TrainingDiverged(f"loss became {float(loss.detach())} at step {step} (stage {stage}): {shown}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(params, grad_clip, foreach=True)
    optimizer.step()
    schedule.step()
    if ema is not None:
        ema.update_parameters(method)
    return terms


def train(method: Method, suite: Suite, cfg: TrainConfig, device: torch.device, *, log: LogFn | None = None,
          checkpoint: Path | None = None, on_step: StepFn | None = None,
          should_stop: Callable[[], bool] | None = None, check: CheckFn | None = None) -> tuple[EMA, TrainSummary]:
    """Train `method` on `suite` for cfg.steps steps split over its stages; returns the EMA model.
    `log` receives the loss terms every cfg.log_every steps, which also go into summary.loss_curve, and those
    steps and each stage's first run under torch's FLOP counter (summary.counted_flops: a sample of one step in
    log_every, since FLOPs per step vary with routing and counting every step would slow training severalfold;
    the counter reorders a few sums of those steps' backward pass, and the counted steps are fixed by their
    number, so a record reproduces and a resume is exact); `on_step`
    is told of every step (progress); `check` is called with the step and the EMA model after every step, and
    what it returns (a quick evaluation) goes into summary.progress. A checkpoint holds the weights, optimizer,
    data position, every random state and both lists, so a resumed run is bit-identical to an uninterrupted
    one; `should_stop` is asked after every step (CellInterrupted)."""
    ema = EMA(method, cfg.ema_decay)
    summary = TrainSummary()
    state = load_checkpoint(checkpoint, summary.notes) if checkpoint else None
    batches = suite.train_batches(cfg.batch_size, device)
    if state is not None:
        method.load_state_dict(state["method"])
        ema.load_state_dict(state["ema"])
        batches.load_state_dict(state["batches"])
        restore_random_state(state["rng"])
        summary.resumed_from = int(state["step"])
        summary.loss_curve, summary.progress = state["loss_curve"], state["progress"]
        summary.counted_flops = state.get("counted_flops", {})
    stage_steps = [round(cfg.steps * s.fraction) for s in method.stages]
    stage_steps[-1] = cfg.steps - sum(stage_steps[:-1])
    summary.stage_steps = {stage.name: n for stage, n in zip(method.stages, stage_steps)}
    if on_step:
        on_step(summary.resumed_from, None)
    start_time, done, global_step = time.perf_counter(), 0, 0
    for stage, n_steps in zip(method.stages, stage_steps):
        if global_step + n_steps <= summary.resumed_from:
            global_step += n_steps
            continue
        params = [p for p in method.stage_parameters(stage.name) if p.requires_grad]
        optimizer, schedule = make_optimizer(params, cfg)
        first = max(0, summary.resumed_from - global_step)
        if state is not None and first > 0 and state.get("stage") == stage.name:
            optimizer.load_state_dict(state["optimizer"])
            schedule.load_state_dict(state["schedule"])
        method.train()
        for step_in_stage in range(first, n_steps):
            step = global_step + step_in_stage + 1
            logged = step % cfg.log_every == 0 or step == cfg.steps
            counter = FlopCounterMode(display=False) if logged or step_in_stage == 0 else None
            with counter or contextlib.nullcontext():
                terms = training_step(method, next(batches), stage.name, optimizer, schedule, params, cfg.grad_clip,
                                      ema, step - 1, cfg.precision)
            if counter is not None:
                summed, counted = summary.counted_flops.get(stage.name, [0.0, 0])
                summary.counted_flops[stage.name] = [summed + counter.get_total_flops(), counted + 1]
            done += 1
            values = None
            if logged:
                values = {k: float(v.detach()) for k, v in terms.items()}
                summary.final_terms = values
                summary.loss_curve.append([step, values["loss"]])
                if log:
                    log({f"train/{k}": v for k, v in values.items()}, step)
            if on_step:
                on_step(step, values)
            if check and (found := check(step, ema)) is not None:
                summary.progress.append(found)
            if checkpoint and cfg.checkpoint_every and step % cfg.checkpoint_every == 0 and step < cfg.steps:
                save_checkpoint(checkpoint, {"step": step, "stage": stage.name, "method": method.state_dict(),
                                             "ema": ema.state_dict(), "optimizer": optimizer.state_dict(),
                                             "schedule": schedule.state_dict(), "batches": batches.state_dict(),
                                             "rng": random_state(), "loss_curve": summary.loss_curve,
                                             "progress": summary.progress,
                                             "counted_flops": summary.counted_flops})
            if should_stop and should_stop() and step < cfg.steps:
                raise CellInterrupted(f"stopped at step {step} of {cfg.steps}")
        global_step += n_steps
    summary.steps = cfg.steps
    summary.seconds = time.perf_counter() - start_time
    summary.samples_per_second = done * cfg.batch_size / summary.seconds if summary.seconds > 0 else math.nan
    ema.module.eval()
    return ema, summary
