"""The evaluation every suite shares. A suite declares its task matrix (which modalities condition, which are
generated) and, per task, its scores: which table column and direction each feeds, a fresh metric under the
update/compute contract, and how to read (preds, target) from a chunk. The engine generates chunk by chunk,
feeds every metric, and then scores an oracle with the same metrics: the real data in the generator's place
(the test tuples' own targets for a conditional task, real tuples the test set never saw for co-generation).
The oracle's value is the floor each value is reported beside: what a perfect generator scores at the same n."""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from torch import Tensor

from base.results import Evaluation, MetricResult, MetricSpec

if TYPE_CHECKING:
    from methods.base import Method
    from tasks.base import Progress, Suite

Chunk = dict[str, Tensor]
Reader = Callable[[Chunk, Chunk], tuple[Tensor, Tensor]]


@dataclass(frozen=True)
class Task:
    group: str  # what the timing and the progress line call it, e.g. "one_to_one"
    sources: tuple[str, ...]  # the conditioning modalities; () for unconditional co-generation
    targets: tuple[str, ...]  # the generated modalities


@dataclass
class Score:
    spec: MetricSpec  # the column the value goes to (mean over its parts)
    part: str  # the direction within the column, e.g. "x1->x2"
    metric: Callable[[], Any]  # a fresh metric with update(preds, target) and compute() -> float
    read: Reader  # (generated or oracle chunk, test rows of the chunk) -> (preds, target)
    counts: bool = True  # False: recorded beside the column's parts, left out of its mean


def chunks(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


def run_task(scores: list[Score], produce: Callable[[slice], Chunk], rows: Chunk, size: int,
             prepare: Callable[[Chunk], Chunk]) -> tuple[list[float], Chunk]:
    """Every score's value on the chunks `produce` makes, and the first chunk (kept for figures)."""
    metrics = [s.metric() for s in scores]
    first: Chunk = {}
    for part in chunks(len(next(iter(rows.values()))), size):
        made = produce(part)
        first = first or made
        condition = {m: x[part] for m, x in rows.items()}
        view = prepare(made)
        for score, metric in zip(scores, metrics):
            metric.update(*score.read(view, condition))
    return [float(m.compute()) for m in metrics], first


def evaluate(suite: Suite, method: Method, n: int, size: int, progress: Progress | None = None) -> Evaluation:
    """The suite's task matrix on (at most) n test tuples per task, each value with its oracle floor."""
    values: dict[str, dict[str, float]] = defaultdict(dict)  # column -> direction -> value
    counted: dict[str, dict[str, float]] = defaultdict(dict)
    floors: dict[str, dict[str, float]] = defaultdict(dict)
    sizes: dict[str, int] = {}
    unsupported: set[str] = set()
    timings: dict[str, float] = defaultdict(float)
    joint: Chunk = {}
    say = progress or (lambda _: None)
    for task in suite.tasks():
        scores = suite.scores(task)
        if not method.capabilities.supports(len(task.sources)):
            unsupported.update(s.spec.key for s in scores)
            continue
        say(task.group)
        start = time.perf_counter()
        rows = suite.test_rows(n, task)
        if task.sources:
            produce = lambda part, t=task, rows=rows: method.generate(  # noqa: E731
                suite.batch({m: rows[m][part] for m in t.sources}), list(t.sources), list(t.targets))
            real = rows  # the oracle's conditional samples are the test tuples' own targets
        else:
            produce = lambda part: method.sample_joint(part.stop - part.start)  # noqa: E731
            real = suite.reference_rows(n, task)
        got, first = run_task(scores, produce, rows, size, suite.prepare)
        floor, _ = run_task(scores, lambda part, real=real: {m: x[part] for m, x in real.items()}, rows, size,
                            suite.prepare)
        joint = joint if task.sources else first
        for score, value, oracle in zip(scores, got, floor):
            key = score.spec.key
            sizes[key] = min(sizes.get(key, n), len(next(iter(rows.values()))))
            values[key][score.part] = value
            if score.counts:
                counted[key][score.part], floors[key][score.part] = value, oracle
        timings[task.group] += time.perf_counter() - start
    metrics = {}
    for spec in suite.evaluated_specs():
        key = spec.key
        if key in unsupported or key not in values:
            metrics[key] = MetricResult(None, spec.higher_is_better, n=n)
        else:
            metrics[key] = MetricResult(float(np.mean(list(counted[key].values()))), spec.higher_is_better,
                                        dict(values[key]), n=sizes[key],
                                        floor=float(np.mean(list(floors[key].values()))))
    metrics.update(suite.fixed_metrics())
    return Evaluation(metrics, suite.figure_samples(method, joint), dict(timings))
