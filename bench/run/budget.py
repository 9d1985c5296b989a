"""Training budgets: how many steps a cell trains so that every method gets the same amount of one resource —
steps (the default), samples, FLOPs or wall-clock seconds. FLOPs and seconds per step come from a short probe:
a few training steps of a copy of the method on its own batches, with the random state restored afterwards,
so the probe never changes the numbers of the cell itself."""
from __future__ import annotations

import copy
import math
import time
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.flop_counter import FlopCounterMode

from bench.run.train import make_optimizer, training_step
from methods.base import Method
from tasks.base import Suite

if TYPE_CHECKING:
    from bench.core.config import TrainConfig

PROBE_STEPS = 3  # counted (and timed) probe steps, after one warm-up step


def probe(method: Method, suite: Suite, cfg: TrainConfig, device: torch.device) -> dict[str, float]:
    """FLOPs (matmul FLOPs counted by torch.utils.flop_counter, forward and backward) and seconds per training
    step, each stage measured on PROBE_STEPS steps of a copy of `method` and weighted by its share of the steps."""
    flops = seconds = 0.0
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        twin = copy.deepcopy(method)
        batches = suite.train_batches(cfg.batch_size, device)
        for stage in twin.stages:
            stage_flops, stage_seconds = measure_stage(twin, batches, stage.name, cfg, device)
            flops += stage.fraction * stage_flops
            seconds += stage.fraction * stage_seconds
    return {"flops_per_step": flops, "seconds_per_step": seconds}


def measure_stage(method: Method, batches, stage: str, cfg: TrainConfig, device: torch.device
                  ) -> tuple[float, float]:
    params = [p for p in method.stage_parameters(stage) if p.requires_grad]
    optimizer, schedule = make_optimizer(params, cfg)

    def step(i: int) -> None:
        training_step(method, next(batches), stage, optimizer, schedule, params, cfg.grad_clip, None, i,
                      cfg.precision)

    step(0)  # warm-up
    counter = FlopCounterMode(display=False)
    with counter:
        for i in range(PROBE_STEPS):
            step(i)
    synchronize(device)
    start = time.perf_counter()
    for i in range(PROBE_STEPS):
        step(i)
    synchronize(device)
    return counter.get_total_flops() / PROBE_STEPS, (time.perf_counter() - start) / PROBE_STEPS


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def budget_steps(cfg: TrainConfig, measured: dict[str, float]) -> int:
    """Steps that spend the budget: train.steps, or the samples, FLOPs or seconds divided by the cost of a step."""
    if cfg.budget == "steps":
        return cfg.steps
    per_step = {"samples": cfg.batch_size, "flops": measured["flops_per_step"],
                "seconds": measured["seconds_per_step"]}[cfg.budget]
    return max(1, math.floor(cfg.budget_amount / per_step))


def consumption(cfg: TrainConfig, steps: int, measured: dict[str, float], method: Method,
                counted_flops: float | None) -> dict[str, Any]:
    """What the cell's training consumed: steps, samples, FLOPs (counted during training, bench/run/train.py; the
    probe's estimate beside them), and the examples each decoder and prior saw."""
    seen = {name: int(module.examples_seen) for name, module in method.named_modules()
            if hasattr(module, "examples_seen")}
    return {"kind": cfg.budget, "amount": cfg.steps if cfg.budget == "steps" else cfg.budget_amount,
            "steps": steps, "samples": steps * cfg.batch_size,
            "flops": counted_flops, "flops_counted": counted_flops is not None,
            "flops_per_step": None if counted_flops is None else counted_flops / max(1, steps),
            "probe_flops_per_step": measured["flops_per_step"], "probe_flops": steps * measured["flops_per_step"],
            "probe_seconds_per_step": measured["seconds_per_step"], "machine_dependent": cfg.budget == "seconds",
            "examples_seen": seen}
