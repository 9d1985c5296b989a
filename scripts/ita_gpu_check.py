"""A short check of the image–text–audio paper profile (Tab. E.2 sizes) on one GPU: the synthetic data at the
paper's scale, then a few training steps and a small evaluation of some methods at the paper's network sizes,
timed, with their parameter counts against the paper's (encoders ~90 M, prior ~30 M, decoders ~140 M with a
text transformer we do not have). Runs without MLflow. Usage: python3 scripts/ita_gpu_check.py [methods] [n_train]"""
import json
import os
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from bench.core.config import resolve  # noqa: E402
from bench.run.train import train  # noqa: E402
from methods import METHODS  # noqa: E402
from tasks import SUITES  # noqa: E402

SUITE = "image_text_audio"
methods = sys.argv[1].split(",") if len(sys.argv) > 1 else ["muni", "mopoe", "flowbind"]
n_train = sys.argv[2] if len(sys.argv) > 2 else "547000"
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("device:", torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", flush=True)

start = time.perf_counter()
suite = SUITES.get(SUITE)(resolve(SUITE, "muni", 0, "paper", [f"data.n_train={n_train}"]).data)
print(f"data: {time.perf_counter() - start:.0f} s; {json.dumps(suite.describe()['train_pairs'])} training pairs",
      flush=True)
for name in methods:
    steps = 20
    cfg = resolve(SUITE, name, 0, "paper", [f"train.steps={steps}", "eval.n_samples=500", "eval.batch_size=500",
                                            "eval.progress_samples=0"])
    torch.manual_seed(0)
    method = METHODS.get(name)(suite.specs, cfg.model, cfg.flow, cfg.options).to(device)
    sizes = {part: sum(p.numel() for n, p in method.named_parameters() if n.startswith(f"backbone.{part}")) / 1e6
             for part in ("encoders", "prior", "decoders", "flows", "means")}
    t0 = time.perf_counter()
    ema, _ = train(method, suite, cfg.train, device)
    torch.cuda.synchronize() if device.type == "cuda" else None
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluation = suite.evaluate(ema.module, cfg.eval, device)
    t_eval = time.perf_counter() - t0
    memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
    print(f"{name:10} M params {json.dumps({k: round(v, 1) for k, v in sizes.items() if v})}  train "
          f"{1000 * t_train / steps:7.1f} ms/step (batch {cfg.train.batch_size}, incl. warm-up)  eval of 500 "
          f"{t_eval:5.1f} s {json.dumps({k: round(v, 1) for k, v in evaluation.timings.items()})}  peak "
          f"{memory:.1f} GiB", flush=True)
