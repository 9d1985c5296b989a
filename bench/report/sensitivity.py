"""Variants as sensitivity: each `--set` variant of a profile (a budget, an option, a backbone) shown as the change
it makes against the same method's plain row — the value's difference with its interval (paired over the test
tuples, two-level over seeds) and the rank the method would take among the plain rows with this row in its plain
row's place — for the methods that ran it, naming the plain methods that did not."""
from __future__ import annotations

from dataclasses import replace

from base.results import Row
from bench.report.ranking import STALE, real_value
from bench.report.tables import markdown_table
from tasks.base import MetricSpec
from tasks.verdicts import better, compare, estimate


def rank_of(rows: list[Row], index: int, spec: MetricSpec) -> int | None:
    """1 + the number of rows that beat rows[index] (their paired difference's interval excludes 0; a row whose
    noise is unknown beats nothing and is beaten by nothing): ties share a rank."""
    real = real_value(rows, spec)
    found = {i: e for i, row in enumerate(rows) if (e := estimate(row, spec.key)) is not None}
    if index not in found:
        return None
    return 1 + sum(better(e, found[index], spec.ideal, real) is True for i, e in found.items() if i != index)


def change_text(plain: Row, variant: Row, rows: list[Row], spec: MetricSpec) -> str:
    a, b = estimate(plain, spec.key), estimate(variant, spec.key)
    if a is None or b is None:
        return "—"
    delta = compare([a, b], lambda x, y: y - x)
    text = f"{delta.value:+.4g} ± {delta.se:.2g}" if delta.known else f"{delta.value:+.4g}"
    if delta.decide() is not None:
        text = f"**{text}**"  # the interval excludes 0: the variant changed this value
    index = rows.index(plain)
    swapped = rows[:index] + [replace(variant, overrides=[])] + rows[index + 1:]  # competing as a table row
    before, after = rank_of(rows, index, spec), rank_of(swapped, index, spec)
    return text + ("" if before is None or after is None else f" (rank {before}→{after})")


def sensitivity_section(rows: list[Row], table: list[MetricSpec]) -> list[str]:
    plain = [row for row in rows if not row.overrides and row.records]
    by_method = {row.method: row for row in plain}
    variants: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.overrides and row.records and row.method in by_method:
            variants.setdefault(tuple(row.overrides), []).append(row)
    if not variants:
        return []
    lines = ["## Sensitivity: what each variant changes", "",
             "Each `--set` variant against the same method's row in the table: the change of the mean (variant − "
             "table row) ± its SE, in bold where its 95% interval excludes 0, and the method's rank among the "
             f"table's rows before → with this row in its place (ties share a rank). {STALE}: a row made by other "
             "code.", ""]
    header = ["Method"] + [f"Δ {spec.label}" for spec in table]
    for overrides, group in sorted(variants.items()):
        settings = " ".join(f"`--set {o}`" for o in overrides)
        missing = sorted(set(by_method) - {row.method for row in group})
        lines += [f"### {settings}", ""]
        if missing:
            lines += [f"Not run with this variant: {', '.join(missing)}.", ""]
        body = [[row.method + (f" {STALE}" if row.stale or by_method[row.method].stale else "")]
                + [change_text(by_method[row.method], row, plain, spec) for spec in table] for row in group]
        lines += [markdown_table(header, body), ""]
    return lines
