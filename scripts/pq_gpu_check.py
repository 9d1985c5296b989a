"""A short check of the PolyMNIST-Quadrant-Labels paper profile on one GPU: the 64×64 data and its verifier's
held-out accuracy (against the 0.97 gate), then a few training steps and a small evaluation of some methods at
the paper's network sizes, timed. Runs without MLflow; POT is stubbed when absent (only the Gaussian-mixture
suite needs it). Usage: python3 scripts/pq_gpu_check.py [methods, comma-separated] [n_train]"""
import importlib.util
import json
import os
import sys
import time
import types

if importlib.util.find_spec("ot") is None:
    sys.modules["ot"] = types.ModuleType("ot")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from bench.core.config import resolve  # noqa: E402
from bench.run.train import train  # noqa: E402
from methods import METHODS  # noqa: E402
from tasks import SUITES  # noqa: E402

SUITE = "polymnist_quadrant_labels"
methods = sys.argv[1].split(",") if len(sys.argv) > 1 else ["muni", "mopoe", "mmvae_plus"]
n_train = sys.argv[2] if len(sys.argv) > 2 else "60000"
device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
print("device:", torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", flush=True)

start = time.perf_counter()
data = resolve(SUITE, "muni", 0, "paper", [f"data.n_train={n_train}", "data.verifier_min_accuracy=0"]).data
suite = SUITES.get(SUITE)(data)
print(f"data + verifier: {time.perf_counter() - start:.0f} s; verifier held-out accuracy "
      f"{json.dumps(suite.verifier_accuracy)}", flush=True)
for name in methods:
    steps = 12
    cfg = resolve(SUITE, name, 0, "paper", [f"train.steps={steps}", "eval.n_samples=200", "eval.batch_size=200"])
    torch.manual_seed(0)
    method = METHODS.get(name)(suite.specs, cfg.model, cfg.flow, cfg.options).to(device)
    params = sum(p.numel() for p in method.parameters()) / 1e6
    t0 = time.perf_counter()
    ema, _ = train(method, suite, cfg.train, device)
    torch.cuda.synchronize() if device.type == "cuda" else None
    t_train = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluation = suite.evaluate(ema.module, cfg.eval, device)
    t_eval = time.perf_counter() - t0
    memory = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0.0
    print(f"{name:12} {params:5.1f} M params  train {1000 * t_train / steps:7.1f} ms/step (batch "
          f"{cfg.train.batch_size}, incl. warm-up)  eval of 200 tuples {t_eval:5.1f} s "
          f"{json.dumps({k: round(v, 1) for k, v in evaluation.timings.items()})}  peak {memory:.1f} GiB", flush=True)
