"""The arithmetic of the paper's whole matrix at the paper profile: cells, counted FLOPs, GPU-hours, what a
64-GPU Ray cluster would take, and storage. Writes docs/scale.md; every number comes from this script's run:

- FLOPs per step: torch's FLOP counter over a few training steps of every method at the paper profile's
  networks on a small batch, scaled to the profile's batch (every route is per sample, so FLOPs grow linearly).
- GPU step times: measured only where a record of a GPU run exists (results/<suite>/paper/, NVIDIA H200); the
  other suites are estimated at the FLOP rate each method reached on the measured suite, which overstates their
  time (larger networks keep a GPU busier), and are marked as estimates.
- Storage: the committed cpu records and sample files per cell (measured sizes), and a checkpoint of the paper
  profile's networks (weights, EMA copy, two AdamW moments: 16 bytes per parameter).

    python scripts/scale_on_paper.py [--seeds 3] [--gpus 64]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cli import trainable_on  # noqa: E402
from bench.config import resolve  # noqa: E402
from bench.records import git_state  # noqa: E402
from methods import METHODS  # noqa: E402
from tasks import SUITES  # noqa: E402

SUITE_NAMES = ("gaussian_mixture", "polymnist_quadrant_labels", "image_text_audio")
SMALL_DATA = {"gaussian_mixture": ["data.n_train=2000", "data.n_test=200"],  # FLOPs per step do not depend on it
              "polymnist_quadrant_labels": ["data.n_train=64", "data.n_test=16", "data.verifier_steps=1"],
              "image_text_audio": ["data.n_train=2000", "data.n_test=200", "data.n_triplets=200"]}
SMALL_BATCH = {"gaussian_mixture": 64, "polymnist_quadrant_labels": 4, "image_text_audio": 32}


def flops_and_parameters(suite_name: str, method_name: str, steps: int = 3) -> tuple[float, int, int, int]:
    """Counted FLOPs of one training step at the paper profile's batch, parameters, profile steps and batch."""
    paper = resolve(suite_name, method_name, 0, "paper", [])
    cfg = resolve(suite_name, method_name, 0, "paper", SMALL_DATA[suite_name])
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
    for path in sorted((ROOT / "results" / suite_name / "paper").glob("*/*-seed*.json")):
        record = json.loads(path.read_text())
        if record.get("status") == "ok" and record["device"]["type"] == "cuda":
            found.setdefault(record["method"], []).append(record["wall_time"]["train"] / record["train"]["steps"])
            device[record["method"]] = record["device"]["name"]
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
    args.out.write_text(render(rows, args.seeds, args.gpus, {s: cell_storage(s) for s in SUITE_NAMES}))
    print(f"scale: wrote {args.out}")


def render(rows: list[dict], seeds: int, gpus: int, cell_bytes: dict[str, float]) -> str:
    devices = sorted({r["device"] for r in rows if r["device"]})
    lines = ["# The paper's matrix at scale", "",
             f"Generated by `python scripts/scale_on_paper.py` ({datetime.now(timezone.utc):%Y-%m-%d}, commit "
             f"{git_state().get('commit', 'unknown')[:10]}). The matrix: every method that trains on a suite × "
             f"{seeds} seeds, at the paper profile (`bench/profiles/paper.yaml`); each ablation or budget setting "
             "adds as many cells again for the methods it covers.", "",
             f"GPU step times are measured where a GPU record exists ({', '.join(devices) or 'none'}; "
             "`results/<suite>/paper/`); rows marked *estimate* take the FLOP rate the same method reached there, "
             "which overstates their time, since larger networks keep a GPU busier. `scripts/gpu_paper_profile.sh` "
             "and `python -m bench perf --device cuda --profile paper --suite SUITE` measure them on a GPU.", "",
             "| suite | method | parameters (M) | steps × batch | TFLOP per step | s per step (GPU) | GPU-hours per "
             "cell |", "|---|---|---|---|---|---|---|"]
    totals: dict[str, dict[str, float]] = {}
    for r in rows:
        hours = r["step_s"] * r["steps"] / 3600 if r["step_s"] else float("nan")
        t = totals.setdefault(r["suite"], {"cells": 0, "hours": 0.0, "longest": 0.0, "params": 0.0, "estimated": 0})
        t["cells"] += seeds
        t["hours"] += seeds * hours
        t["longest"] = max(t["longest"], hours)
        t["params"] += seeds * r["parameters"]
        t["estimated"] += r["estimated"]
        step = f"{r['step_s']:.3f}" + (" *estimate*" if r["estimated"] else "")
        lines.append(f"| {r['suite']} | {r['method']} | {r['parameters'] / 1e6:.1f} | {r['steps']} × {r['batch']} | "
                     f"{r['flops_per_step'] / 1e12:.3f} | {step} | {hours:.1f} |")
    lines += ["", f"| suite | cells | GPU-hours | longest cell (h) | on {gpus} GPUs (h) | records and samples | "
              "final checkpoints |", "|---|---|---|---|---|---|---|"]
    all_cells = all_hours = all_ckpt = 0.0
    for suite, t in totals.items():
        wall = max(t["hours"] / gpus, t["longest"])
        ckpt = 16 * t["params"]
        all_cells, all_hours, all_ckpt = all_cells + t["cells"], all_hours + t["hours"], all_ckpt + ckpt
        lines.append(f"| {suite} | {t['cells']:.0f} | {t['hours']:.0f}{' (estimate)' if t['estimated'] else ''} | "
                     f"{t['longest']:.1f} | {wall:.1f} | {t['cells'] * cell_bytes[suite] / 2**20:.0f} MiB | "
                     f"{ckpt / 2**30:.1f} GiB |")
    lines += ["", f"All three suites: {all_cells:.0f} cells, about {all_hours:.0f} GPU-hours; on {gpus} GPUs the "
              f"wall time is bounded below by the longest cell of each suite (a cell is one process on one GPU), "
              f"so the matrix takes at least the longest cell and about {all_hours / gpus:.0f} h when the cells "
              f"pack evenly. Final checkpoints take {all_ckpt / 2**30:.1f} GiB (a running cell also keeps one "
              "resumable checkpoint of the same size); records, samples and MLflow runs are small beside them. "
              "Records and samples per cell are the committed cpu profile's sizes (paper-profile sample files hold "
              "more samples)."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
