"""The arithmetic of the paper's whole matrix at the paper profile: cells, counted FLOPs, GPU-hours, what a
64-GPU Ray cluster would take, and storage. Writes docs/scale.md; every number comes from this script's run:

- FLOPs per step: torch's FLOP counter over a few training steps of every method at the paper profile's
  networks on a small batch, scaled to the profile's batch (every route is per sample, so FLOPs grow linearly).
- GPU step times: measured only where a record of a GPU run exists (results/<suite>/paper/, NVIDIA H200); the
  other suites are estimated at the FLOP rate each method reached on the measured suite, which overstates their
  time (larger networks keep a GPU busier), and are marked as estimates.
- A lower bound: the same FLOPs at the GPU's dense fp32 peak (`--gpu-peak-tflops`, the H200's data-sheet 67
  TFLOP/s by default: a constant given, not measured), which no step of these networks reaches.
- Storage: the committed cpu records and sample files per cell (measured sizes), and a checkpoint of the paper
  profile's networks (weights, EMA copy, two AdamW moments: 16 bytes per parameter).

    python scripts/scale_on_paper.py [--seeds 3] [--gpus 64] [--gpu-peak-tflops 67]
"""
from __future__ import annotations

import argparse
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.core.config import resolve  # noqa: E402
from bench.core.records import git_state, read_records  # noqa: E402
from bench.run.plan import trainable_on  # noqa: E402
from methods import METHODS  # noqa: E402
from tasks import SUITES  # noqa: E402

SUITE_NAMES = ("gaussian_mixture", "polymnist_quadrant_labels", "image_text_audio")
SMALL_BATCH = {"gaussian_mixture": 64, "polymnist_quadrant_labels": 4, "image_text_audio": 32}
SMALL_DATA = {  # FLOPs per step do not depend on the data's size
    "gaussian_mixture": ["data.n_train=2000", "data.n_test=200"],
    "polymnist_quadrant_labels": ["data.n_train=64", "data.n_test=16", "data.verifier_steps=1",
                                  "data.verifier_min_accuracy=0"],
    "image_text_audio": ["data.n_train=2000", "data.n_test=200", "data.n_triplets=200"]}


def flops_and_parameters(suite_name: str, method_name: str, steps: int = 3) -> tuple[float, int, int, int]:
    """Counted FLOPs of one training step at the paper profile's batch, parameters, profile steps and batch."""
    paper = resolve(suite_name, method_name, 0, "paper", [])
    cfg = resolve(suite_name, method_name, 0, "paper",
                  [*SMALL_DATA[suite_name], f"train.batch_size={SMALL_BATCH[suite_name]}"])
    suite = SUITES.get(suite_name)(cfg.data)
    torch.manual_seed(0)
    method = METHODS.get(method_name)(suite.specs, cfg.model, cfg.flow, cfg.options)
    batches = suite.train_batches(SMALL_BATCH[suite_name], torch.device("cpu"))
    counted = []
    for stage in method.stages:  # a step of each stage, weighted by its share of the steps
        counter = FlopCounterMode(display=False)
        with counter:
            for _ in range(steps):
                method.loss(next(batches), stage.name)["loss"].backward()
        counted.append(stage.fraction * counter.get_total_flops() / steps)
    per_step = sum(counted) * paper.train.batch_size / SMALL_BATCH[suite_name]
    return per_step, sum(p.numel() for p in method.parameters()), paper.train.steps, paper.train.batch_size


def measured_gpu_steps(suite_name: str) -> dict[str, tuple[float, str]]:
    """Seconds per training step and device name of each method's GPU records at the paper profile."""
    found: dict[str, list[float]] = {}
    device = {}
    for record in read_records(ROOT / "results" / suite_name / "paper", warn=lambda _: None):
        if record.status == "ok" and record.device["type"] == "cuda":
            found.setdefault(record.method, []).append(record.wall_time["train"] / record.train["steps"])
            device[record.method] = record.device["name"]
    return {m: (statistics.median(v), device[m]) for m, v in found.items()}


def cell_storage(suite_name: str) -> float:
    """Median bytes of one committed cpu cell's record and samples file."""
    sizes = [sum(p.stat().st_size for p in [record, record.with_suffix("").with_suffix(".samples.npz")] if p.exists())
             for record in (ROOT / "results" / suite_name / "cpu").glob("*/*-seed*.json")]
    return statistics.median(sizes) if sizes else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--gpus", type=int, default=64)
    parser.add_argument("--gpu-peak-tflops", type=float, default=67.0, help="dense fp32 peak of the GPU (H200: 67)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "scale.md")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    rows, rates = [], {}
    for suite_name in SUITE_NAMES:
        methods, _ = trainable_on(suite_name, METHODS.names(), everything=True)
        gpu = measured_gpu_steps(suite_name)
        for method in methods:
            print(f"scale: counting {suite_name} / {method} ...", flush=True)
            flops, params, steps, batch = flops_and_parameters(suite_name, method)
            measured = gpu.get(method)
            if measured:
                rates[method] = flops / measured[0]
            rows.append({"suite": suite_name, "method": method, "flops_per_step": flops, "parameters": params,
                         "steps": steps, "batch": batch, "gpu_step_s": measured[0] if measured else None,
                         "device": measured[1] if measured else None})
    fallback = statistics.median(rates.values()) if rates else None
    for row in rows:
        rate = rates.get(row["method"], fallback)
        row["estimated"] = row["gpu_step_s"] is None
        row["step_s"] = row["gpu_step_s"] if row["gpu_step_s"] else (row["flops_per_step"] / rate if rate else None)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(rows, args.seeds, args.gpus, args.gpu_peak_tflops,
                               {s: cell_storage(s) for s in SUITE_NAMES}))
    print(f"scale: wrote {args.out}")


def render(rows: list[dict], seeds: int, gpus: int, peak_tflops: float, cell_bytes: dict[str, float]) -> str:
    devices = sorted({r["device"] for r in rows if r["device"]})
    lines = ["# The paper's matrix at scale", "",
             f"Generated by `python scripts/scale_on_paper.py` ({datetime.now(timezone.utc):%Y-%m-%d}, commit "
             f"{git_state().get('commit', 'unknown')[:10]}). The matrix: every method that trains on a suite × "
             f"{seeds} seeds, at the paper profile (`bench/profiles/paper.yaml`); each ablation or budget setting "
             "adds as many cells again for the methods it covers. FLOPs are counted (matmuls and convolutions, "
             "forward and backward) on a small batch and scaled to the profile's.", "",
             f"GPU step times are measured where a GPU record exists ({', '.join(devices) or 'none'}; "
             "`results/<suite>/paper/`); rows marked *estimate* take the FLOP rate the same method reached there, "
             "which overstates their time, since larger networks keep a GPU busier. The lower bound puts the same "
             f"FLOPs at a dense fp32 peak of {peak_tflops:.0f} TFLOP/s (a data-sheet constant, not measured). "
             "`scripts/gpu_paper_profile.sh` and `python -m bench perf --device cuda --profile paper --suite SUITE` "
             "measure the step times on a GPU.", "",
             "| suite | method | parameters (M) | steps × batch | TFLOP per step | s per step (GPU) | GPU-hours per "
             "cell | at the fp32 peak |", "|---|---|---|---|---|---|---|---|"]
    totals: dict[str, dict[str, float]] = {}
    for r in rows:
        hours = r["step_s"] * r["steps"] / 3600 if r["step_s"] else float("nan")
        floor = r["flops_per_step"] * r["steps"] / (peak_tflops * 1e12) / 3600
        t = totals.setdefault(r["suite"], {"cells": 0, "hours": 0.0, "floor": 0.0, "longest": 0.0,
                                           "longest_floor": 0.0, "params": 0.0, "estimated": 0})
        t["cells"] += seeds
        t["hours"] += seeds * hours
        t["floor"] += seeds * floor
        t["longest"], t["longest_floor"] = max(t["longest"], hours), max(t["longest_floor"], floor)
        t["params"] += seeds * r["parameters"]
        t["estimated"] += r["estimated"]
        step = f"{r['step_s']:.3f}" + (" *estimate*" if r["estimated"] else "")
        lines.append(f"| {r['suite']} | {r['method']} | {r['parameters'] / 1e6:.1f} | {r['steps']} × {r['batch']} | "
                     f"{r['flops_per_step'] / 1e12:.3f} | {step} | {hours:.1f} | {floor:.2f} |")
    lines += ["", f"| suite | cells | GPU-hours | longest cell (h) | on {gpus} GPUs (h) | records and samples | "
              "final checkpoints |", "|---|---|---|---|---|---|---|"]
    total = {"cells": 0.0, "hours": 0.0, "floor": 0.0, "wall": 0.0, "wall_floor": 0.0, "ckpt": 0.0}
    for suite, t in totals.items():
        wall, wall_floor = max(t["hours"] / gpus, t["longest"]), max(t["floor"] / gpus, t["longest_floor"])
        ckpt = 16 * t["params"]
        for key, value in (("cells", t["cells"]), ("hours", t["hours"]), ("floor", t["floor"]), ("ckpt", ckpt)):
            total[key] += value
        total["wall"], total["wall_floor"] = max(total["wall"], wall), max(total["wall_floor"], wall_floor)
        lines.append(f"| {suite} | {t['cells']:.0f} | {t['floor']:.0f}-{t['hours']:.0f} | "
                     f"{t['longest_floor']:.1f}-{t['longest']:.1f} | {wall_floor:.1f}-{wall:.1f} | "
                     f"{t['cells'] * cell_bytes[suite] / 2**20:.0f} MiB | {ckpt / 2**30:.1f} GiB |")
    whole = max(total["hours"] / gpus, total["wall"])
    whole_floor = max(total["floor"] / gpus, total["wall_floor"])
    lines += ["", f"All three suites: {total['cells']:.0f} cells, {total['floor']:.0f}-{total['hours']:.0f} GPU-hours "
              f"(lower bound at the fp32 peak, then the estimate). A cell is one process on one GPU, so {gpus} GPUs "
              f"cannot finish the matrix before its longest cell: {whole_floor:.0f}-{whole:.0f} h of wall time, set by "
              "the longest cell rather than by the number of GPUs wherever that cell is longer than the total over "
              f"{gpus}. Final checkpoints take {total['ckpt'] / 2**30:.1f} GiB (weights, EMA and two AdamW moments; a "
              "running cell also keeps one resumable checkpoint of the same size); records, samples and MLflow runs "
              "are small beside them (the committed cpu profile's sizes per cell; paper-profile sample files hold "
              "more samples)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
