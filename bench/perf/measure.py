"""`bench perf`: training throughput of every method at a profile's sizes, against the matmul peak measured
in the same run. Each method is measured in its own process (so peak memory is its own) with the threads one
cell of `bench run` gets by default; the peak is re-measured before every timed repeat at that thread count,
because a shared machine's speed drifts, and ratios use the medians. A profiled repeat splits the step into
matmul kernels and everything else, which says what keeps a method from the peak."""
from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from bench.core.records import command_line, git_state, write_record

PEAK_SIZE = 2048
MATMUL_OPS = ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::mkldnn_convolution",
              "aten::cudnn_convolution", "aten::convolution_backward")


def matmul_peak(device: torch.device, size: int = PEAK_SIZE, reps: int = 5, dtype: torch.dtype = torch.float32
                ) -> float:
    """GFLOP/s of a square matmul (fp32 unless told), the roof the training step is compared with."""
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
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


def default_threads(device: torch.device) -> int:
    """The CPU threads one cell of `bench run` trains with by default: one per core, cells side by side."""
    from bench.run.executor_local import resolve_workers

    return max(1, (os.cpu_count() or 1) // resolve_workers(0, device)) if device.type == "cpu" else 1


def timed_repeats(step: Callable[[int], None], repeats: int, steps: int,
                  device: torch.device) -> tuple[list[float], list[float]]:
    """Seconds per step of each timed repeat, and the fp32 matmul peak measured just before it."""
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


@contextmanager
def stderr_silenced() -> Iterator[None]:
    """The profiler's C++ side prints a line to stderr when it starts and stops; errors still raise."""
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def matmul_seconds(step: Callable[[int], None], steps: int, device: torch.device) -> float:
    """Seconds per step spent inside matmul and convolution kernels, from one profiled repeat."""
    from torch.profiler import ProfilerActivity, profile

    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device.type == "cuda" else [])
    with stderr_silenced(), profile(activities=activities) as prof:
        for i in range(steps):
            step(i)
        sync(device)
    field = "self_device_time_total" if device.type == "cuda" else "self_cpu_time_total"
    return sum(getattr(e, field) for e in prof.key_averages() if e.key in MATMUL_OPS) / 1e6 / steps


def start_process(threads: int, device_name: str) -> None:
    """Pool initializer: the measured process uses `threads` CPU threads (a cell of `bench run` sets its own), and
    stops when `bench perf` dies, as the runner's workers do."""
    from bench.run.executor_local import die_with_parent

    die_with_parent()
    if device_name != "cuda":
        torch.set_num_threads(threads)


def measure_method(suite_name: str, method_name: str, profile: str, overrides: list[str], repeats: int,
                   steps: int, device_name: str) -> dict[str, Any]:
    from torch.utils.flop_counter import FlopCounterMode

    from bench.core.config import resolve
    from bench.run.plan import pick_device
    from bench.run.train import EMA, make_optimizer, training_step
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
    precision = cfg.train.precision

    def step(i: int) -> None:
        training_step(method, next(batches), stage, optimizer, schedule, params, cfg.train.grad_clip, ema, i,
                      precision)

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
    in_matmul = matmul_seconds(step, steps, device)
    low_precision_peak = matmul_peak(device, dtype=torch.bfloat16) if precision == "bf16" else None
    evaluation = suite.evaluate(ema.module.eval(), cfg.eval, device)
    step_s = statistics.median(seconds)
    if device.type == "cuda":
        memory_mb = torch.cuda.max_memory_allocated(device) / 2**20
    else:
        import resource

        memory_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": method_name, "batch_size": cfg.train.batch_size, "steps_in_profile": cfg.train.steps,
            "seconds_per_step": step_s, "seconds_per_step_all": seconds,
            "samples_per_second": cfg.train.batch_size / step_s, "flops_per_step": flops,
            "gflops_per_second": flops / step_s / 1e9, "peak_gflops": statistics.median(peaks),
            "peak_gflops_all": peaks, "bf16_peak_gflops": low_precision_peak,
            "ratio_to_peak": paired_ratio(flops, seconds, peaks),
            "matmul_seconds_per_step": in_matmul, "matmul_share": in_matmul / step_s,
            "matmul_gflops": flops / in_matmul / 1e9 if in_matmul > 0 else None,
            "eval_seconds": evaluation.timings,
            "rows_per_network_call": [min(call_rows), max(call_rows)] if call_rows else None,
            "eval_samples": cfg.eval.n_samples, "peak_memory_mb": memory_mb,
            "projected_cell_seconds": step_s * cfg.train.steps + sum(evaluation.timings.values())}


def measure_reference(suite_name: str, profile: str, overrides: list[str], repeats: int, steps: int,
                      device_name: str, rows: int) -> dict[str, Any]:
    """The ceiling for this machine and these sizes: the flow prior's velocity network alone, forward and
    backward on `rows` latents (no routing, aggregation, optimizer or EMA). Every method is built from such
    networks, so no training step whose networks see `rows` rows can be more matmul-bound than this."""
    from torch.utils.flop_counter import FlopCounterMode

    from bench.core.config import resolve
    from bench.run.plan import pick_device
    from bench.run.train import autocast
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
        with autocast(device, cfg.train.precision):
            loss = (net(z, t) - target).float().square().sum()
        loss.backward()

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


def same_shape_decoders(suite_name: str, profile: str, overrides: list[str]) -> tuple[Any, list[str], int]:
    """The resolved config, the largest group (at least two) of vector modalities whose flow decoders have one
    shape, which a stacked network could serve in one call (empty when there is none), and their data size."""
    from bench.core.config import resolve
    from tasks import SUITES

    cfg = resolve(suite_name, "muni", 0, profile, overrides)
    specs = [s for s in SUITES.get(suite_name)(cfg.data).specs if s.kind == "vector"]
    groups: dict[int, list[str]] = {}
    for spec in specs:
        groups.setdefault(spec.size, []).append(spec.name)
    size, best = max(groups.items(), key=lambda item: len(item[1]), default=(0, []))
    return cfg, best if len(best) >= 2 and cfg.model.backbone == "flow" else [], size


def measure_stacking(cfg: Any, names: list[str], size: int, repeats: int, steps: int, device_name: str,
                     rows: int) -> dict[str, Any]:
    """Same-shape decoders called one after another (as the backbone does) against one stacked network
    (torch.func: parameters stacked on a leading axis, the layers vmapped into batched matmuls), forward and
    backward with `rows` rows each. The speed-up a backbone that stacks them could hope for on this device."""
    from torch.func import functional_call, stack_module_state, vmap

    from bench.run.plan import pick_device
    from bench.run.train import autocast
    from methods.backbone.nets import VelocityMLP

    device = pick_device(device_name)
    m = cfg.model
    torch.manual_seed(0)
    nets = [VelocityMLP(size, m.latent_dim, m.decoder_width, m.decoder_blocks, m.time_dim).to(device)
            for _ in names]
    x, t, z = (torch.randn(len(names), rows, size, device=device), torch.rand(len(names), rows, device=device),
               torch.randn(len(names), rows, m.latent_dim, device=device))
    params, buffers = stack_module_state(nets)
    params = {k: v.detach().requires_grad_() for k, v in params.items()}
    template = VelocityMLP(size, m.latent_dim, m.decoder_width, m.decoder_blocks, m.time_dim).to("meta")
    stacked = vmap(lambda p, b, *args: functional_call(template, (p, b), args))
    precision = cfg.train.precision

    def separate(_: int = 0) -> None:
        for net in nets:
            net.zero_grad(set_to_none=True)
        with autocast(device, precision):
            loss = sum(net(x[k], t[k], z[k]).float().square().sum() for k, net in enumerate(nets))
        loss.backward()

    def together(_: int = 0) -> None:
        for p in params.values():
            p.grad = None
        with autocast(device, precision):
            loss = stacked(params, buffers, x, t, z).float().square().sum()
        loss.backward()

    timings = {}
    for name, fn in (("separate", separate), ("stacked", together)):
        for _ in range(3):
            fn()
        seconds, _ = timed_repeats(fn, repeats, steps * 5, device)
        timings[name] = statistics.median(seconds)
    return {"modalities": names, "rows": rows, "separate_seconds": timings["separate"],
            "stacked_seconds": timings["stacked"], "speedup": timings["separate"] / timings["stacked"]}


def measure_references(suite_name: str, profile: str, overrides: list[str], repeats: int, steps: int,
                       device_name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The reference network on a fifth of a batch, one batch and four; same-shape decoders, separate and
    stacked, on the rows MUNI's routes give each (60 % of a batch split between them) and on a whole batch."""
    cfg, group, size = same_shape_decoders(suite_name, profile, overrides)
    batch = cfg.train.batch_size
    reference = [measure_reference(suite_name, profile, overrides, repeats, steps, device_name, rows)
                 for rows in (max(1, batch // 5), batch, 4 * batch)]
    if not group:
        return reference, []
    routed = max(1, round(batch * 0.6 / len(group)))
    return reference, [measure_stacking(cfg, group, size, repeats, steps, device_name, rows)
                       for rows in (routed, batch)]


def in_process(pool_args: tuple, fn: Callable, *args) -> Any:
    """Run fn(*args) in a process of its own with the measured thread count, forked as the runner's workers are
    (bench/run/executor_local.py: from a server that imported the cell's code once)."""
    from bench.run.executor_local import worker_context

    with ProcessPoolExecutor(max_workers=1, mp_context=worker_context(), initializer=start_process,
                             initargs=pool_args) as pool:
        return pool.submit(fn, *args).result()


def run_perf(args, methods: list[str]) -> list[Path]:
    """Measure `methods` (checked by the command line) with the settings in `args`; write the record and page."""
    from bench.core.config import resolve
    from bench.perf.page import describe_machine, render
    from bench.run.plan import pick_device

    device = pick_device(args.device)
    threads = args.threads or default_threads(device)
    pool_args = (threads, args.device)
    common = (args.suite, args.profile, list(args.overrides), args.repeats, args.steps, args.device)
    precision = resolve(args.suite, "muni", 0, args.profile, list(args.overrides)).train.precision
    results = []
    for name in methods:
        print(f"bench perf: measuring {name} ...", flush=True)
        results.append(in_process(pool_args, measure_method, args.suite, name, *common[1:]))
    print("bench perf: measuring the reference network and stacked decoders ...", flush=True)
    reference, stacking = in_process(pool_args, measure_references, *common)
    peaks = [p for r in [*results, *reference] for p in r["peak_gflops_all"]]
    side_by_side = max(1, (os.cpu_count() or 1) // threads) if device.type == "cpu" else 1
    cell_seconds = [r["projected_cell_seconds"] for r in results]
    record = {"schema": 2, "kind": "perf", "suite": args.suite, "profile": args.profile, "device": device.type,
              "threads": threads, "peak_size": PEAK_SIZE, "precision": precision,
              "cells_side_by_side": side_by_side,
              "machine": describe_machine(device, threads), "command": command_line(args.argv), "git": git_state(),
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "peak_gflops": statistics.median(peaks), "peak_min": min(peaks), "peak_max": max(peaks),
              "projected_total_seconds": max(sum(cell_seconds) / side_by_side, max(cell_seconds)),
              "training_flops_total": sum(r["flops_per_step"] * r["steps_in_profile"] for r in results),
              "methods": results, "reference": reference, "stacking": stacking}
    variant = "".join(f"-{part}" for part, differs in ((f"{threads}threads", threads != default_threads(device)),
                                                        (precision, precision != "fp32")) if differs)
    record_path = args.results / "perf" / f"{args.suite}-{args.profile}-{device.type}{variant}.json"
    write_record(record_path, record)
    args.out.mkdir(parents=True, exist_ok=True)
    md = args.out / f"perf{'' if device.type == 'cpu' else '-' + device.type}{variant}.md"
    md.write_text(render(record))
    return [md, record_path]
