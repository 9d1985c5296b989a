"""Where a suite's table scores another metric than the paper's (image–text–audio: judge win-rates on embeddings
against the paper's CLIPScore, CLAPScore and AIS on decoded media), the values cannot stand side by side; what
can be compared is the order of the methods. Per column, Kendall's τ between the paper's ranking and ours over the
methods both have."""
from __future__ import annotations

import math

from scipy.stats import kendalltau

from base.results import MetricSpec, Row
from bench.report.ranking import rank_key, real_value
from bench.report.tables import markdown_table
from tasks.verdicts import estimate


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


def agreement_section(rows: list[Row], layout: list[tuple[MetricSpec, MetricSpec]],
                      paper: dict[str, dict[str, float | None]]) -> list[str]:
    """`layout`: (the paper's metric, our column) pairs; the section compares their orders of the methods."""
    body, taus = [], []
    for paper_spec, spec in layout:
        both, tau, ours, theirs = column_agreement(rows, spec, paper_spec, paper)
        if not both:
            continue
        taus += [tau] if tau is not None else []
        body.append([spec.label, paper_spec.key.partition(":")[2].partition("/")[0], str(len(both)),
                     "n/a" if tau is None else f"{tau:+.2f}", ours, theirs])
    if not body:
        return []
    median = sorted(taus)[len(taus) // 2] if taus else None
    return ["## The paper's ranking beside ours", "",
            "The paper scores these cells with other metrics (named per column) on decoded media, so its values are "
            "not set beside ours (they sit beside the media metrics, where a run has them). What compares is the "
            "order of the methods: per column, Kendall's τ between the paper's ranking and ours over the methods "
            "both have (+1: the same order, −1: reversed; n/a below three methods)"
            + ("" if median is None else f"; the median over columns is {median:+.2f}") + ".", "",
            markdown_table(["Column", "paper's metric", "methods in both", "τ", "our best", "paper's best"], body),
            ""]
