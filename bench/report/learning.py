"""Learning curves: how far each method is from the ideal on validation tuples as it trains, from the quick
evaluations its records keep at each eighth of training (record.train["checks"], bench/run/cell.py).

The distance to the ideal is |value - oracle| for every headline metric, the oracle's value on the same validation
tuples being the ideal at that sample size (for a lower- or higher-is-better metric as well as for a match).
Per row (a method at one configuration, over its seeds; bench/report/rows.py) and metric, each point is the mean
over seeds of that distance at one fraction of training, with the standard error over seeds where at least two
seeds have it. Checks without a split or an oracle value (records from before validation tuples, whose checks were
on test tuples) are left out, so a row without validation checks has no curve.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from base.results import MetricSpec, Row
from bench.core.records import Record
from bench.figures.curves import LearningLine, Panel

RUNG = 0.75  # the fraction of training the test set is also evaluated at, unless a record's eval.rung says
FIGURE_TITLE = ("Distance to the ideal (|value − oracle's value|) on validation tuples during training: mean over "
                "seeds, shaded ± 1 SE over seeds; dot = 3/4 of training (the test rung)")


@dataclass(frozen=True)
class CurvePoint:
    fraction: float  # of training
    step: float  # the training step (mean over seeds; the same for every seed of a step budget)
    distance: float  # mean over seeds of |value - oracle|
    se: float | None  # standard error of that mean over seeds; None with fewer than two
    seeds: int


@dataclass(frozen=True)
class LearningCurve:
    metric: MetricSpec
    points: list[CurvePoint]
    marker_step: float | None  # the step of the point at the test rung (3/4 of training), if there is one


@dataclass(frozen=True)
class RowLearning:
    label: str  # the row's label: the method and the --set settings that set it apart
    method: str
    config_hash: str
    curves: dict[str, LearningCurve]  # headline key -> its curve, for the metrics with validation checks


@dataclass(frozen=True)
class LearningModel:
    specs: list[MetricSpec]
    rows: list[RowLearning]


def learning_model(rows: list[Row], specs: list[MetricSpec]) -> LearningModel:
    """The curves of report rows (each a method and configuration over seeds: bench/report/rows.py); rows without
    validation checks are left out."""
    found = []
    for row in rows:
        curves = {spec.key: curve for spec in specs if (curve := learning_curve(row.records, spec))}
        if curves:
            found.append(RowLearning(row.label, row.method, row.config_hash, curves))
    return LearningModel(list(specs), found)


def learning_curve(records: list[Record], spec: MetricSpec) -> LearningCurve | None:
    """The mean distance to the ideal over the records (seeds) at each fraction of training; None without any."""
    found: dict[float, list[tuple[float, float]]] = {}  # fraction -> (step, distance) per seed
    for record in records:
        for check in validation_checks(record):
            value, oracle = check["metrics"].get(spec.key), check["oracle"].get(spec.key)
            if value is not None and oracle is not None and math.isfinite(value) and math.isfinite(oracle):
                found.setdefault(round(check["fraction"], 9), []).append((check["step"], abs(value - oracle)))
    if not found:
        return None
    points = [point(fraction, seeds) for fraction, seeds in sorted(found.items())]
    rung = records[0].config.get("eval", {}).get("rung", RUNG)
    marker = next((p.step for p in points if abs(p.fraction - rung) < 1e-9), None)
    return LearningCurve(spec, points, marker)


def validation_checks(record: Record) -> list[dict]:
    return [c for c in record.train.get("checks", []) if c.get("split") == "validation" and c.get("oracle")]


def point(fraction: float, seeds: list[tuple[float, float]]) -> CurvePoint:
    steps, distances = np.array(seeds, dtype=float).T
    se = float(distances.std(ddof=1) / math.sqrt(len(distances))) if len(distances) > 1 else None
    return CurvePoint(fraction, float(steps.mean()), float(distances.mean()), se, len(distances))


def learning_panels(model: LearningModel) -> list[Panel]:
    """The model as the learning figure's panels (bench/figures/curves.py): one per headline metric; the band is
    the mean ± 1 standard error over seeds, where there is one."""
    panels = []
    for spec in model.specs:
        lines = [learning_line(row.label, curve) for row in model.rows if (curve := row.curves.get(spec.key))]
        panels.append(Panel(f"{spec.label} {spec.arrow}", "|value − oracle|", lines))
    return panels


def learning_line(label: str, curve: LearningCurve) -> LearningLine:
    low = [p.distance - p.se if p.se is not None else math.nan for p in curve.points]
    high = [p.distance + p.se if p.se is not None else math.nan for p in curve.points]
    return LearningLine(label, [p.step for p in curve.points], [p.distance for p in curve.points], low, high,
                        curve.marker_step)
