"""Where a suite's table scores another metric than the paper's (image–text–audio: judge win-rates on embeddings
against the paper's CLIPScore, CLAPScore and AIS on decoded media), the values cannot stand side by side; what
can be compared is the order of the methods. Per column, Kendall's τ between the paper's ranking and ours over the
methods both have. bench/report/render/markdown.py formats it."""
from __future__ import annotations

import math
from dataclasses import dataclass

from scipy.stats import kendalltau

from base.results import MetricSpec, Row
from tasks.verdicts import Estimate, estimate, real_value


@dataclass(frozen=True)
class ColumnAgreement:
    column: str  # our column's label
    paper_metric: str
    methods: int  # methods in both
    tau: float | None  # None below three methods
    ours: str  # our best
    theirs: str  # the paper's best


@dataclass(frozen=True)
class Agreement:
    columns: list[ColumnAgreement]

    @property
    def median(self) -> float | None:
        taus = sorted(c.tau for c in self.columns if c.tau is not None)
        return taus[len(taus) // 2] if taus else None


def rank_key(spec: MetricSpec, mean: float, real: Estimate | None) -> float:
    """Smaller is better: the value (lower), its negative (higher), its distance to the real value (match)."""
    if spec.ideal == "match":
        return abs(mean - real.mean) if real is not None else math.nan
    return -mean if spec.ideal == "higher" else mean


def column_agreement(rows: list[Row], spec: MetricSpec, paper_spec: MetricSpec,
                     paper: dict[str, dict[str, float | None]]) -> tuple[list[str], float | None, str, str]:
    """(methods in both, τ or None below three methods, our best, the paper's best) for one column."""
    real = real_value(rows, spec)
    ours = {}
    for row in rows:
        found = estimate(row, spec.key) if not row.overrides else None
        if found is not None and math.isfinite(key := rank_key(spec, found.mean, real)):
            ours[row.method] = key
    theirs = {m: rank_key(paper_spec, v, None) for m, values in paper.items()
              if (v := values.get(spec.key)) is not None}
    both = sorted(set(ours) & set(theirs))
    tau = float(kendalltau([ours[m] for m in both], [theirs[m] for m in both]).statistic) if len(both) >= 3 else None
    best = (min(both, key=ours.get), min(both, key=theirs.get)) if both else ("-", "-")
    return both, tau, *best


def agreement(rows: list[Row], layout: list[tuple[MetricSpec, MetricSpec]],
              paper: dict[str, dict[str, float | None]]) -> Agreement | None:
    """`layout`: (the paper's metric, our column) pairs; their orders of the methods compared."""
    columns = []
    for paper_spec, spec in layout:
        both, tau, ours, theirs = column_agreement(rows, spec, paper_spec, paper)
        if both:
            columns.append(ColumnAgreement(spec.label, paper_spec.key.partition(":")[2].partition("/")[0], len(both),
                                           tau, ours, theirs))
    return Agreement(columns) if columns else None
