"""One cell's numbers: seed, build the method on the suite's modalities, size the training to the budget, train
(with a held-out quick evaluation at each eighth), seed again, evaluate the task matrix. Everything here determines
results, so this file is part of every record's code fingerprint (bench/core/fingerprint.py); recording, tracking and
scheduling live in bench/run/job.py and bench/run/runner.py."""
from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from bench.run.budget import budget_steps, consumption, probe
from bench.run.train import EMA, LogFn, StepFn, TrainSummary, train
from methods.backbone.modality import set_gaussian_output
from methods.base import METHODS, Method
from tasks.base import Evaluation, Progress, Suite

if TYPE_CHECKING:
    from bench.core.config import CellConfig

EVAL_SEED_OFFSET = 1_000_003  # evaluation draws from its own seed, so it does not depend on training's draws
CHECKS = tuple(i / 8 for i in range(1, 9))  # fractions of training after which the quick evaluation runs
CURVE_SEED = 2_000_003  # the quick evaluations' noise: the same at every check, for every method and seed
CURVE_RESAMPLES = 100  # bootstrap resamples of each quick evaluation (its values' standard errors)
REFERENCE, ORACLE = "reference:", "reference:oracle/"  # how an evaluation names its reference rows' values


@dataclass
class CellResult:
    method: Method
    ema: EMA
    summary: TrainSummary
    evaluation: Evaluation
    parameters: int
    budget: dict[str, Any]
    checks: list[dict[str, Any]]  # the quick evaluations on validation tuples, in training order
    rungs: list[dict[str, Any]]  # the test evaluations before the end of training (eval.rung)


def measured_cost(method: Method, suite: Suite, cfg: CellConfig, device: torch.device,
                  checkpoint: Path | None) -> dict[str, float]:
    """FLOPs and seconds per step from the probe; a resumed cell reuses the measurement it started with (a
    seconds budget would otherwise size a resumed cell differently)."""
    kept = checkpoint.with_suffix(".cost.json") if checkpoint else None
    if kept is not None and kept.exists():
        return json.loads(kept.read_text())
    measured = probe(method, suite, cfg.train, device)
    if kept is not None:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_text(json.dumps(measured))
    return measured


def quick_checks(suite: Suite, cfg: CellConfig, steps: int, device: torch.device) -> Callable | None:
    """A check for train(). At each eighth of training: the task matrix on the first eval.progress_samples
    *validation* tuples (never a test tuple: what a run selects or stops on must not see the test set), every time
    from CURVE_SEED (common random numbers: a change between two checks, or two methods, is the model's, not the
    sampling noise's), with the oracle reference row on the same tuples (a distance to the ideal at the same sample
    size: a set distance's finite-sample bias cancels). At eval.rung of training: the test evaluation the cell's
    final one makes, as it stands at that step (the budget-stability verdicts' earlier rung). Both run under a
    forked random state, so the checks leave the cell's numbers unchanged. Each value keeps its bootstrap standard
    error."""
    at = {max(1, round(steps * fraction)): fraction for fraction in CHECKS} if cfg.eval.progress_samples else {}
    rung = max(1, round(steps * cfg.eval.rung)) if cfg.eval.rung else None
    if not at and rung is None:
        return None
    quick = dataclasses.replace(cfg.eval, n_samples=min(cfg.eval.n_samples, cfg.eval.progress_samples or 1),
                                bootstrap=CURVE_RESAMPLES if cfg.eval.bootstrap else 0)

    def evaluated(ema: EMA, seed: int, eval_config, split: str) -> tuple[Evaluation, float]:
        start = time.perf_counter()
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(seed)
            ema.module.eval()
            set_gaussian_output(ema.module, cfg.eval.gaussian_output)
            evaluation = suite.evaluate(ema.module, eval_config, device, references=split == "validation",
                                        split=split)
            ema.module.train()
        return evaluation, time.perf_counter() - start

    def check(step: int, ema: EMA) -> dict[str, Any] | None:
        if step not in at and step != rung:
            return None
        found: dict[str, Any] = {}
        if step in at:
            evaluation, seconds = evaluated(ema, CURVE_SEED, quick, "validation")
            own = {k: r for k, r in evaluation.metrics.items() if not k.startswith(REFERENCE)}
            found.update({"step": step, "fraction": at[step], "n": quick.n_samples, "seconds": seconds,
                          "split": "validation", "metrics": {k: r.value for k, r in own.items()},
                          "se": {k: r.se for k, r in own.items()},
                          "oracle": {k.removeprefix(ORACLE): r.value for k, r in evaluation.metrics.items()
                                     if k.startswith(ORACLE)}})
        if step == rung:
            evaluation, seconds = evaluated(ema, cfg.seed + EVAL_SEED_OFFSET, cfg.eval, "test")
            found["rung"] = {"step": step, "fraction": cfg.eval.rung, "seconds": seconds,
                             "metrics": {k: r.as_dict() for k, r in evaluation.metrics.items()}}
        return found
    return check


def train_and_evaluate(cfg: CellConfig, suite: Suite, device: torch.device, *, log: LogFn | None = None,
                       checkpoint: Path | None = None, on_step: StepFn | None = None,
                       should_stop: Callable[[], bool] | None = None, progress: Progress | None = None,
                       on_trained: Callable[[TrainSummary], None] | None = None,
                       on_budget: Callable[[dict[str, Any]], None] | None = None) -> CellResult:
    torch.manual_seed(cfg.seed)
    method = METHODS.get(cfg.method)(suite.specs, cfg.model, cfg.flow, cfg.options).to(device)
    measured = measured_cost(method, suite, cfg, device, checkpoint)
    steps = budget_steps(cfg.train, measured)
    if on_budget:
        on_budget({"steps": steps, **measured})
    train_cfg = dataclasses.replace(cfg.train, steps=steps)
    ema, summary = train(method, suite, train_cfg, device, log=log, checkpoint=checkpoint, on_step=on_step,
                         should_stop=should_stop, check=quick_checks(suite, cfg, steps, device))
    if on_trained:
        on_trained(summary)
    torch.manual_seed(cfg.seed + EVAL_SEED_OFFSET)
    set_gaussian_output(ema.module, cfg.eval.gaussian_output)
    evaluation = suite.evaluate(ema.module, cfg.eval, device, progress)
    checks = [{k: v for k, v in c.items() if k != "rung"} for c in summary.progress if "metrics" in c]
    rungs = [c["rung"] for c in summary.progress if "rung" in c]
    return CellResult(method, ema, summary, evaluation, sum(p.numel() for p in method.parameters()),
                      consumption(cfg.train, steps, measured, method, summary.flops), checks, rungs)
