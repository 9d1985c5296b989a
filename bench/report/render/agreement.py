"""The paper's ranking beside ours, in Markdown, from bench/report/agreement.py's model."""
from __future__ import annotations

from bench.report.agreement import Agreement
from bench.report.render.tables import Lines


def agreement_section(found: Agreement | None) -> Lines:
    if found is None:
        return []
    median = found.median
    body = [[c.column, c.paper_metric, str(c.methods), "n/a" if c.tau is None else f"{c.tau:+.2f}", c.ours, c.theirs]
            for c in found.columns]
    return ["## The paper's ranking beside ours", "",
            "The paper scores these cells with other metrics (named per column) on decoded media, so its values are "
            "not set beside ours (they sit beside the media metrics, where a run has them). What compares is the "
            "order of the methods: per column, Kendall's τ between the paper's ranking and ours over the methods "
            "both have (+1: the same order, −1: reversed; n/a below three methods)"
            + ("" if median is None else f"; the median over columns is {median:+.2f}") + ".", "",
            (["Column", "paper's metric", "methods in both", "τ", "our best", "paper's best"], body),
            ""]
