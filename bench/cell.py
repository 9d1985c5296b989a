"""One cell's numbers: seed, build the method on the suite's modalities, train, seed again, evaluate the task
matrix. Everything here determines results, so this file is part of every record's code fingerprint
(bench/fingerprint.py); recording, tracking and scheduling live in bench/job.py and bench/runner.py."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from bench.train import EMA, LogFn, StepFn, TrainSummary, train
from methods.base import METHODS, Method
from tasks.base import Evaluation, Progress, Suite

if TYPE_CHECKING:
    from bench.config import CellConfig

EVAL_SEED_OFFSET = 1_000_003  # evaluation draws from its own seed, so it does not depend on training's draws


@dataclass
class CellResult:
    method: Method
    ema: EMA
    summary: TrainSummary
    evaluation: Evaluation
    parameters: int


def train_and_evaluate(cfg: CellConfig, suite: Suite, device: torch.device, *, log: LogFn | None = None,
                       checkpoint: Path | None = None, on_step: StepFn | None = None,
                       should_stop: Callable[[], bool] | None = None, progress: Progress | None = None,
                       on_trained: Callable[[TrainSummary], None] | None = None) -> CellResult:
    torch.manual_seed(cfg.seed)
    method = METHODS.get(cfg.method)(suite.specs, cfg.model, cfg.flow, cfg.options).to(device)
    ema, summary = train(method, suite, cfg.train, device, log=log, checkpoint=checkpoint, on_step=on_step,
                         should_stop=should_stop)
    if on_trained:
        on_trained(summary)
    torch.manual_seed(cfg.seed + EVAL_SEED_OFFSET)
    evaluation = suite.evaluate(ema.module, cfg.eval, device, progress)
    return CellResult(method, ema, summary, evaluation, sum(p.numel() for p in method.parameters()))
