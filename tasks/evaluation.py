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


def run_task(task: Task, scores: list[Score], produce: Callable[[slice], Chunk], rows: Chunk,
             size: int, prepare: Callable[[Chunk], Chunk]) -> tuple[list[float], Chunk]:
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
    """The suite's task matrix on its first n test tuples, each value with its oracle floor."""
    rows, unseen = suite.test_rows(n), suite.reference_rows(n)
    values: dict[str, dict[str, float]] = defaultdict(dict)
    counted: dict[str, dict[str, float]] = defaultdict(dict)
    floors: dict[str, dict[str, float]] = defaultdict(dict)
    unsupported: set[str] = set()
    timings: dict[str, float] = defaultdict(float)
    joint: Chunk = {}
    say = progress or (lambda _: None)
    for task in suite.tasks():
        scores = suite.scores(task)
        start = time.perf_counter()
        if not method.capabilities.supports(len(task.sources)):
            unsupported.update(s.spec.key for s in scores)
            timings[task.group] += time.perf_counter() - start
            continue
        say(task.group)
        if task.sources:
            produce = lambda part, t=task: method.generate(  # noqa: E731
                suite.batch({m: rows[m][part] for m in t.sources}), list(t.sources), list(t.targets))
            oracle = lambda part: {m: x[part] for m, x in rows.items()}  # noqa: E731
        else:
            produce = lambda part: method.sample_joint(part.stop - part.start)  # noqa: E731
            oracle = lambda part: {m: x[part] for m, x in unseen.items()}  # noqa: E731
        got, first = run_task(task, scores, produce, rows, size, suite.prepare)
        if not task.sources:
            joint = first
        real, _ = run_task(task, scores, oracle, rows, size, suite.prepare)
        for score, value, floor in zip(scores, got, real):
            values[score.spec.key][score.part] = value
            if score.counts:
                counted[score.spec.key][score.part] = value
                floors[score.spec.key][score.part] = floor
        timings[task.group] += time.perf_counter() - start
    metrics = {}
    for spec in suite.evaluated_specs():
        if spec.key in unsupported or spec.key not in values:
            metrics[spec.key] = MetricResult(None, spec.higher_is_better, n=n)
            continue
        metrics[spec.key] = MetricResult(float(np.mean(list(counted[spec.key].values()))), spec.higher_is_better,
                                         dict(values[spec.key]), n=n,
                                         floor=float(np.mean(list(floors[spec.key].values()))))
    metrics.update(suite.fixed_metrics())
    return Evaluation(metrics, suite.figure_samples(method, rows, joint), dict(timings))
