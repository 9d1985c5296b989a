"""Which trial a method's tuning selects: the one with the best mean rank, among that method's trials, over the
suite's headline metrics on validation tuples (the quick evaluation at the end of training, bench/run/cell.py;
never a test tuple). A rank is by the metric's ideal: lower, higher, or closest to the oracle's value on the same
validation tuples ("match"). A trial that failed (diverged) ranks last on every metric. Ties in the mean rank go
to the better value of the first headline metric, then to the earlier trial. The same rule for every method."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.stats import rankdata

from base.results import MetricSpec
from bench.core.ideal import loss

RULE = ("the trial with the best mean rank, among the method's trials, over the suite's headline metrics on "
        "validation tuples at the end of training (by each metric's ideal; a failed trial ranks last on every "
        "metric; ties go to the better first headline metric, then to the earlier trial)")


@dataclass
class Trial:
    number: int
    settings: dict[str, Any]
    config_hash: str
    status: str  # ok | failed | pending
    record: str | None = None  # the record's path relative to the output directory
    reason: str | None = None
    validation: dict[str, float] = field(default_factory=dict)  # headline metric -> its value on validation
    oracle: dict[str, float] = field(default_factory=dict)  # headline metric -> the oracle's on the same tuples
    score: float | None = None  # the mean rank (set by select)


def validation_values(record, keys: list[str]) -> tuple[dict[str, float], dict[str, float]]:
    """The headline metrics of the record's last quick evaluation (at the end of training), and the oracle's."""
    checks = [c for c in record.train.get("checks", []) if c.get("split") == "validation"]
    if not checks or checks[-1].get("fraction", 0) < 1 - 1e-9:
        return {}, {}
    last = checks[-1]
    values = {k: last["metrics"][k] for k in keys if last["metrics"].get(k) is not None}
    oracle = {k: last.get("oracle", {})[k] for k in keys if last.get("oracle", {}).get(k) is not None}
    return values, oracle


def select(trials: list[Trial], specs: list[MetricSpec]) -> Trial | None:
    """Set every trial's score (its mean rank) and return the selected one; None unless every trial finished."""
    if not trials or any(t.status == "pending" for t in trials):
        return None
    used = [s for s in specs if any(s.key in t.validation for t in trials)]
    if not used:
        return None
    ranks = np.stack([rankdata([loss(s, t.validation.get(s.key), t.oracle.get(s.key)) if t.status == "ok"
                                else math.inf for t in trials]) for s in used])
    for trial, rank in zip(trials, ranks.mean(0)):
        trial.score = float(rank)
    first = used[0]
    return min(trials, key=lambda t: (t.score, loss(first, t.validation.get(first.key), t.oracle.get(first.key))
                                      if t.status == "ok" else math.inf, t.number))
