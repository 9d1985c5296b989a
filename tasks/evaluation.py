"""The evaluation every suite shares, and its one uncertainty engine. A suite declares its task matrix (which
modalities condition, which are generated) and, per task, its scores: which table column each feeds, a fresh
metric under the update/compute contract, and how to read (preds, target) from a chunk. The engine generates
chunk by chunk, feeds every metric, computes it, and scores it again on bootstrap resamples of the test tuples
(metrics/bootstrap.py): the same resamples for every method and reference row on the same test tuples, so their
replicates can be subtracted (paired differences). Every value leaves with its standard error, 95% interval and
replicates.

A suite's reference rows (`Suite.references`) are generators too, scored by the same engine: an oracle
generator (a fresh draw from the true conditional; for co-generation a second real set, i.e. real vs real), an
identity where it is the ideal, baselines such as ridge regression. They do not depend on the method or seed,
so they are scored once per process and sample size, under their own random seed."""
from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import torch
from torch import Tensor

from base.results import Evaluation, MetricResult
from metrics.bootstrap import draws, interval, row_index, standard_error

if TYPE_CHECKING:
    import numpy as np

    from base.results import MetricSpec
    from methods.backbone.modality import Batch
    from methods.base import Method

Chunk = dict[str, Tensor]
Progress = Callable[[str], None]
Reader = Callable[[Chunk, Chunk], tuple[Tensor, Tensor]]
REFERENCE_SEED = 7_000_003  # reference rows draw from their own seed: the same numbers in every process


@dataclass(frozen=True)
class Task:
    group: str  # what the timing and the progress line call it, e.g. "one_to_one"
    sources: tuple[str, ...]  # the conditioning modalities; () for unconditional co-generation
    targets: tuple[str, ...]  # the generated modalities
    draws: int = 1  # consecutive test rows per test tuple (several draws for one source); resampled together


@dataclass
class Score:
    spec: MetricSpec  # the column the value goes to (mean over its parts)
    part: str  # the direction within the column, e.g. "x1->x2"
    metric: Callable[[], Any]  # a fresh metric: update(preds, target), compute() -> float, resampled(index)
    read: Reader  # (generated or reference chunk, test rows of the chunk) -> (preds, target)
    counts: bool = True  # False: recorded beside the column's parts, left out of its mean


class Generator(Protocol):
    """What the engine scores: a method, or a reference row."""

    def supports(self, task: Task) -> bool: ...

    def produce(self, task: Task, rows: Chunk, part: slice) -> Chunk: ...


class EvaluatedSuite(Protocol):
    """What the engine needs of a suite (tasks/base.py's Suite is one): its task matrix, scores, test rows and
    reference rows."""

    reference_cache: dict[tuple, tuple]
    evaluated_split: str  # the split evaluate() reads: "test" or "validation"

    def tasks(self) -> list[Task]: ...

    def scores(self, task: Task) -> list[Score]: ...

    def evaluation_rows(self, n: int, task: Task | None = None) -> Chunk: ...

    def references(self) -> list[Reference]: ...

    def batch(self, rows: Chunk) -> Batch: ...

    def prepare(self, chunk: Chunk) -> Chunk: ...

    def evaluated_specs(self) -> list[MetricSpec]: ...

    def fixed_metrics(self) -> dict[str, MetricResult]: ...

    def figure_samples(self, method: Method, joint: Chunk) -> dict[str, np.ndarray]: ...


class MethodGenerator:
    def __init__(self, suite: EvaluatedSuite, method: Method):
        self.suite, self.method = suite, method

    def supports(self, task: Task) -> bool:
        return self.method.capabilities.supports(len(task.sources))

    def produce(self, task: Task, rows: Chunk, part: slice) -> Chunk:
        if not task.sources:
            return self.method.sample_joint(part.stop - part.start)
        batch = self.suite.batch({m: rows[m][part] for m in task.sources})
        return self.method.generate(batch, list(task.sources), list(task.targets))


@dataclass
class Reference:
    """A reference row: `conditional(task, rows, part)` and `joint(task, n, part)` make its chunks (None: it does
    not do that kind of task). `real`: its values are the real data's, the target of metrics whose ideal is
    "match" (only an oracle generator or real data can be that)."""

    name: str
    label: str  # what it is, in one phrase, for the reports' header
    conditional: Callable[[Task, Chunk, slice], Chunk] | None = None
    joint: Callable[[Task, int, slice], Chunk] | None = None
    real: bool = False

    def supports(self, task: Task) -> bool:
        return (self.conditional if task.sources else self.joint) is not None

    def produce(self, task: Task, rows: Chunk, part: slice) -> Chunk:
        if task.sources:
            return self.conditional(task, rows, part)
        return self.joint(task, len(next(iter(rows.values()))), part)


def chunks(n: int, size: int) -> list[slice]:
    return [slice(start, min(start + size, n)) for start in range(0, n, size)]


@dataclass
class Scored:
    value: float
    replicates: Tensor | None  # (count,) the value on each bootstrap resample; None without a bootstrap


def run_task(task: Task, scores: list[Score], generator: Generator, rows: Chunk, size: int,
             prepare: Callable[[Chunk], Chunk], bootstrap: int) -> tuple[list[Scored], Chunk]:
    """Every score's value on the chunks the generator makes, with its bootstrap replicates, and the first chunk
    (kept for figures)."""
    metrics = [s.metric() for s in scores]
    first: Chunk = {}
    n_rows = len(next(iter(rows.values())))
    for part in chunks(n_rows, size):
        made = generator.produce(task, rows, part)
        first = first or made
        condition = {m: x[part] for m, x in rows.items()}
        view = prepare(made)
        for score, metric in zip(scores, metrics):
            metric.update(*score.read(view, condition))
    index = row_index(draws(n_rows // task.draws, bootstrap), task.draws) if bootstrap else None
    out = [Scored(float(m.compute()), None if index is None else m.resampled(index).double()) for m in metrics]
    return out, first


def score_generator(suite: EvaluatedSuite, generator: Generator, n: int, size: int, bootstrap: int,
                    progress: Progress | None = None) -> tuple[dict[str, MetricResult], Chunk, dict[str, float]]:
    """Every column of the suite's task matrix for one generator: the mean over its parts, each with its
    replicates (the mean of the parts' replicates), standard error and interval."""
    parts: dict[str, dict[str, Scored]] = defaultdict(dict)  # column -> direction -> scored
    counted: dict[str, list[str]] = defaultdict(list)
    sizes: dict[str, int] = {}
    unsupported: set[str] = set()
    timings: dict[str, float] = defaultdict(float)
    joint: Chunk = {}
    say = progress or (lambda _: None)
    for task in suite.tasks():
        scores = suite.scores(task)
        if not generator.supports(task):
            unsupported.update(s.spec.key for s in scores)
            continue
        say(task.group)
        start = time.perf_counter()
        rows = suite.evaluation_rows(n, task)
        got, first = run_task(task, scores, generator, rows, size, suite.prepare, bootstrap)
        joint = joint if task.sources else first
        tuples = len(next(iter(rows.values()))) // task.draws
        for score, scored in zip(scores, got):
            key = score.spec.key
            sizes[key] = min(sizes.get(key, tuples), tuples)
            parts[key][score.part] = scored
            if score.counts:
                counted[key].append(score.part)
        timings[task.group] += time.perf_counter() - start
    metrics = {}
    for spec in suite.evaluated_specs():
        key = spec.key
        if key in unsupported or key not in parts:
            metrics[key] = MetricResult(None, spec.ideal, n=n)
            continue
        metrics[key] = column(spec, parts[key], counted[key], sizes[key])
    return metrics, joint, dict(timings)


def column(spec: MetricSpec, parts: dict[str, Scored], counted: list[str], n: int) -> MetricResult:
    value = float(torch.tensor([parts[p].value for p in counted], dtype=torch.float64).mean())
    per_direction = {p: s.value for p, s in parts.items()}
    if any(s.replicates is None for s in parts.values()):
        return MetricResult(value, spec.ideal, per_direction, n=n)
    replicates = torch.stack([parts[p].replicates for p in counted]).mean(0)
    se = standard_error(replicates)
    return MetricResult(value, spec.ideal, per_direction, n=n, se=se, ci95=interval(value, se),
                        replicates=replicates.tolist(),
                        per_direction_se={p: standard_error(s.replicates) for p, s in parts.items()})


def reference_metrics(suite: EvaluatedSuite, n: int, size: int, bootstrap: int
                      ) -> tuple[dict[str, str], dict[str, MetricResult]]:
    """What each reference row of the suite is, and "reference:<name>/<key>" for all of them; scored once per
    suite object, split and sizes."""
    cache, key = suite.reference_cache, (suite.evaluated_split, n, size, bootstrap)
    if key not in cache:
        labels, out = {}, {}
        with torch.random.fork_rng():
            for reference in suite.references():
                torch.manual_seed(REFERENCE_SEED)
                metrics, _, _ = score_generator(suite, reference, n, size, bootstrap)
                labels[reference.name] = reference.label
                out.update({f"reference:{reference.name}/{k}": v for k, v in metrics.items()})
        cache[key] = labels, out
    return cache[key]


def evaluate(suite: EvaluatedSuite, method: Method, n: int, size: int, bootstrap: int = 0,
             progress: Progress | None = None, references: bool = True, figures: bool = True) -> Evaluation:
    """The suite's task matrix on (at most) n tuples per task of the split the suite evaluates for the method, then
    (references=True) the suite's reference rows on the same tuples and resamples, the suite's fixed metrics and
    (figures=True) the samples its figures keep."""
    metrics, joint, timings = score_generator(suite, MethodGenerator(suite, method), n, size, bootstrap, progress)
    labels: dict[str, str] = {}
    if references:
        start = time.perf_counter()
        labels, scored = reference_metrics(suite, n, size, bootstrap)
        metrics.update(scored)
        timings["references"] = time.perf_counter() - start
    metrics.update(suite.fixed_metrics())
    return Evaluation(metrics, suite.figure_samples(method, joint) if figures else {}, timings, labels)
