"""`bench perf`: training throughput of every method at a profile's sizes, against the matmul peak measured
in the same run. Each method is measured in its own process (so peak memory is its own); the peak is
re-measured before every timed repeat because a shared machine's speed drifts, and ratios use the medians."""
from __future__ import annotations

import platform
import resource
import statistics
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch

from bench.records import command_line, git_state, write_record

PEAK_SIZE = 2048


def matmul_peak(device: torch.device, size: int = PEAK_SIZE, reps: int = 5) -> float:
    """fp32 GFLOP/s of a square matmul, the roof the training step is compared with."""
    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    sync(device)
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    sync(device)
    return reps * 2 * size ** 3 / (time.perf_counter() - start) / 1e9


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed_repeats(step: Callable[[int], None], repeats: int, steps: int,
                  device: torch.device) -> tuple[list[float], list[float]]:
    """Seconds per step of each timed repeat, and the matmul peak measured just before it."""
    seconds, peaks = [], []
    for _ in range(repeats):
        peaks.append(matmul_peak(device))
        sync(device)
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        sync(device)
        seconds.append((time.perf_counter() - start) / steps)
    return seconds, peaks


def paired_ratio(flops: float, seconds: list[float], peaks: list[float]) -> float:
    """Median over repeats of achieved GFLOP/s divided by the peak measured just before that repeat: a shared
    machine's speed drifts, and a repeat is compared with the peak of its own moment."""
    return statistics.median(flops / s / 1e9 / p for s, p in zip(seconds, peaks))


def measure_method(suite_name: str, method_name: str, profile: str, overrides: list[str], repeats: int,
                   steps: int, device_name: str) -> dict[str, Any]:
    from torch.utils.flop_counter import FlopCounterMode

    from bench.config import resolve
    from bench.runner import pick_device
    from bench.train import EMA, make_optimizer, training_step
    from methods import METHODS
    from methods.backbone.nets import ResidualMLP, VelocityMLP
    from tasks import SUITES

    device = pick_device(device_name)
    cfg = resolve(suite_name, method_name, 0, profile, overrides)
    suite = SUITES.get(suite_name)(cfg.data)
    torch.manual_seed(0)
    method = METHODS.get(method_name)(suite.specs, cfg.model, cfg.flow, cfg.options).to(device)
    stage = method.stages[0].name
    params = [p for p in method.stage_parameters(stage) if p.requires_grad]
    optimizer, schedule = make_optimizer(params, cfg.train)
    ema = EMA(method, cfg.train.ema_decay)
    batches = suite.train_batches(cfg.train.batch_size, device)

    def step(i: int) -> None:
        training_step(method, next(batches), stage, optimizer, schedule, params, cfg.train.grad_clip, ema, i)

    for i in range(3):  # warm-up
        step(i)
    call_rows: list[int] = []  # rows of every MLP call in the counted step
    hooks = [m.register_forward_hook(lambda module, args, out: call_rows.append(out.shape[0]))
             for m in method.modules() if isinstance(m, (ResidualMLP, VelocityMLP))]
    counter = FlopCounterMode(display=False)
    with counter:
        step(3)
    for hook in hooks:
        hook.remove()
    flops = counter.get_total_flops()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    seconds, peaks = timed_repeats(step, repeats, steps, device)
    evaluation = suite.evaluate(ema.module.eval(), cfg.eval, device)
    step_s = statistics.median(seconds)
    memory_mb = (torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda"
                 else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return {"method": method_name, "batch_size": cfg.train.batch_size, "steps_in_profile": cfg.train.steps,
            "seconds_per_step": step_s, "seconds_per_step_all": seconds,
            "samples_per_second": cfg.train.batch_size / step_s, "flops_per_step": flops,
            "gflops_per_second": flops / step_s / 1e9, "peak_gflops": statistics.median(peaks),
            "peak_gflops_all": peaks,
            "ratio_to_peak": paired_ratio(flops, seconds, peaks), "eval_seconds": evaluation.timings,
            "rows_per_network_call": [min(call_rows), max(call_rows)] if call_rows else None,
            "eval_samples": cfg.eval.n_samples, "peak_memory_mb": memory_mb,
            "projected_cell_seconds": step_s * cfg.train.steps + sum(evaluation.timings.values())}


def measure_reference(suite_name: str, profile: str, overrides: list[str], repeats: int, steps: int,
                      device_name: str, rows: int) -> dict[str, Any]:
    """The ceiling for this machine and these sizes: the flow prior's velocity network alone, forward and
    backward on `rows` latents (no routing, aggregation, optimizer or EMA). Every method is built from such
    networks, so no training step whose networks see `rows` rows can be more matmul-bound than this."""
    from torch.utils.flop_counter import FlopCounterMode

    from bench.config import resolve
    from bench.runner import pick_device
    from methods.backbone.nets import VelocityMLP

    device = pick_device(device_name)
    cfg = resolve(suite_name, "muni", 0, profile, overrides)
    torch.manual_seed(0)
    net = VelocityMLP(cfg.model.latent_dim, 0, cfg.model.prior_width, cfg.model.prior_blocks,
                      cfg.model.time_dim).to(device)
    z, t, target = (torch.randn(rows, cfg.model.latent_dim, device=device), torch.rand(rows, device=device),
                    torch.randn(rows, cfg.model.latent_dim, device=device))

    def step(_: int = 0) -> None:
        net.zero_grad(set_to_none=True)
        (net(z, t) - target).square().sum().backward()

    for _ in range(3):
        step()
    counter = FlopCounterMode(display=False)
    with counter:
        step()
    seconds, peaks = timed_repeats(step, repeats, steps * 5, device)
    flops, step_s = counter.get_total_flops(), statistics.median(seconds)
    return {"network": f"prior velocity MLP (width {cfg.model.prior_width}, {cfg.model.prior_blocks} blocks)",
            "rows": rows, "seconds_per_step": step_s, "flops_per_step": flops,
            "gflops_per_second": flops / step_s / 1e9, "peak_gflops_all": peaks,
            "ratio_to_peak": paired_ratio(flops, seconds, peaks)}


def describe_machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def call_range(row: dict[str, Any]) -> str:
    """Fewest-most rows a network (MLP) was called on in one step; '-' where none was counted."""
    rows = row.get("rows_per_network_call")
    return "-" if not rows else (f"{rows[0]}" if rows[0] == rows[1] else f"{rows[0]}-{rows[1]}")


def render(record: dict[str, Any]) -> str:
    rows = record["methods"]
    lines = [f"# Training throughput: {record['suite']}, profile `{record['profile']}`", "",
             f"Generated by `{record['command']}` on {record['machine']} ({record['date']}, "
             f"commit {record['git']['commit'][:10]}).", "",
             f"Matmul peak, fp32 {PEAK_SIZE}×{PEAK_SIZE}, median over the run: **{record['peak_gflops']:.0f} "
             f"GFLOP/s** (it was re-measured before each timed repeat: min {record['peak_min']:.0f}, max "
             f"{record['peak_max']:.0f}; this machine's speed drifts, so each repeat's GFLOP/s is divided by "
             "the peak measured just before it, and the table gives the median of those ratios).", "",
             "FLOPs are counted with `torch.utils.flop_counter` over one whole training step (forward, backward; "
             "matmul FLOPs), and the step time is the median of the timed repeats (optimizer, clipping and EMA "
             "included).", "",
             "| method | samples/s | ms/step | GFLOP/step | GFLOP/s | of matmul peak | rows per network call | "
             "eval s (per task) | peak memory MB | projected cell min |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        evals = " / ".join(f"{k} {v:.1f}" for k, v in r["eval_seconds"].items())
        lines.append(f"| {r['method']} | {r['samples_per_second']:.0f} | {1000 * r['seconds_per_step']:.1f} | "
                     f"{r['flops_per_step'] / 1e9:.2f} | {r['gflops_per_second']:.1f} | "
                     f"{100 * r['ratio_to_peak']:.0f}% | {call_range(r)} | {evals} | {r['peak_memory_mb']:.0f} | "
                     f"{r['projected_cell_seconds'] / 60:.1f} |")
    meets = [r["method"] for r in rows if r["ratio_to_peak"] >= 0.5]
    lines += ["", f"Methods at or above 50% of the matmul peak: {', '.join(meets) or 'none'}."]
    if record.get("reference"):
        reference = record["reference"]
        lines += ["", f"How matmul-bound the backbone's networks can be at these sizes: the {reference[0]['network']} "
                  "alone, forward and backward (no routing, aggregation, optimizer or EMA), at several rows per "
                  "call. Layer norms, activations, bias and residual additions and autograd bookkeeping take the "
                  "rest, and weigh more the fewer rows a call has.", "",
                  "| rows per call | GFLOP/s | of matmul peak |", "|---|---|---|"]
        lines += [f"| {r['rows']} | {r['gflops_per_second']:.1f} | {100 * r['ratio_to_peak']:.0f}% |"
                  for r in reference]
        lines += ["", "A method's ratio follows the rows its networks see per call (the column 'rows per network "
                  "call' gives the fewest and most in one step). Methods that decode several latents per sample call "
                  "each decoder on one or more batches' worth of rows; methods that draw one route per sample (muni, "
                  "muni_hellinger, unified_latents) split one batch between their decoders and prior."]
    lines += ["",
              f"Projected time of the whole `{record['profile']}` job (all these methods, one seed, training steps "
              f"of the profile plus evaluation): **{record['projected_total_seconds'] / 60:.1f} min**."]
    return "\n".join(lines) + "\n"


def run_perf(args, methods: list[str]) -> list[Path]:
    """Measure `methods` (checked by the command line) with the settings in `args`; write the record and page."""
    from bench.config import resolve
    from bench.runner import pick_device

    device = pick_device(args.device)
    results = []
    spawn = get_context("spawn")
    for name in methods:
        print(f"bench perf: measuring {name} ...", flush=True)
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
            results.append(pool.submit(measure_method, args.suite, name, args.profile, list(args.overrides),
                                       args.repeats, args.steps, args.device).result())
    print("bench perf: measuring the reference network ...", flush=True)
    batch = resolve(args.suite, "muni", 0, args.profile, list(args.overrides)).train.batch_size
    with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as pool:
        reference = [pool.submit(measure_reference, args.suite, args.profile, list(args.overrides), args.repeats,
                                 args.steps, args.device, rows).result()
                     for rows in (max(1, batch // 5), batch, 4 * batch)]
    peaks = [p for r in [*results, *reference] for p in r["peak_gflops_all"]]
    record = {"schema": 1, "kind": "perf", "suite": args.suite, "profile": args.profile, "device": device.type,
              "machine": describe_machine(device), "command": command_line(args.argv), "git": git_state(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "peak_gflops": statistics.median(peaks), "peak_min": min(peaks), "peak_max": max(peaks),
              "projected_total_seconds": sum(r["projected_cell_seconds"] for r in results), "methods": results,
              "reference": reference}
    record_path = args.results / "perf" / f"{args.suite}-{args.profile}-{device.type}.json"
    write_record(record_path, record)
    args.out.mkdir(parents=True, exist_ok=True)
    md = args.out / f"perf{'' if device.type == 'cpu' else '-' + device.type}.md"
    md.write_text(render(record))
    return [md, record_path]
