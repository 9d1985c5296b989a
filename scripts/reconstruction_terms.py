"""How many decoder reconstruction terms each method's objective computes per training sample and step, per
modality: the number of examples each decoder learns from per step at equal steps and batch. Counted on real
batches of a suite (untrained networks; the counts depend on the routes, not on the weights).

Usage: python scripts/reconstruction_terms.py [suite] [profile] [steps averaged] [methods, comma-separated]
       e.g. python scripts/reconstruction_terms.py polymnist_quadrant_labels smoke 20"""
import sys
from collections import Counter

import torch

from bench.core.config import resolve
from methods import METHODS
from tasks import SUITES


def count_rows(decoders: torch.nn.ModuleDict, counts: Counter) -> None:
    """Make every decoder's loss add the number of rows it was given to counts[modality]."""
    for name, decoder in decoders.items():
        def counted(x, cond, _loss=decoder.loss, _name=name):
            counts[_name] += x.shape[0]
            return _loss(x, cond)
        decoder.loss = counted


def main() -> None:
    suite_name = sys.argv[1] if len(sys.argv) > 1 else "polymnist_quadrant_labels"
    profile = sys.argv[2] if len(sys.argv) > 2 else "smoke"
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    chosen = sys.argv[4].split(",") if len(sys.argv) > 4 else METHODS.names()
    torch.manual_seed(0)
    first = resolve(suite_name, chosen[0], 0, profile, [])
    suite = SUITES.get(first.suite)(first.data)  # the data settings are the same for every method
    names = [s.name for s in suite.specs]
    print(f"| method (batch {first.train.batch_size}, first stage) | {' | '.join(names)} | all |")
    print("|---" * (len(names) + 2) + "|")
    for method_name in chosen:
        cfg = resolve(suite_name, method_name, 0, profile, [])
        method = METHODS.get(method_name)(suite.specs, cfg.model, cfg.flow, cfg.options)
        counts: Counter = Counter()
        count_rows(method.backbone.decoders, counts)
        batches = suite.train_batches(cfg.train.batch_size, "cpu")
        with torch.no_grad():
            for _ in range(steps):
                method.loss(next(batches), method.stages[0].name)
        per_sample = {n: counts[n] / steps / cfg.train.batch_size for n in names}
        print(f"| {method_name} | {' | '.join(f'{per_sample[n]:.2f}' for n in names)} | "
              f"{sum(per_sample.values()):.2f} |", flush=True)


if __name__ == "__main__":
    main()
