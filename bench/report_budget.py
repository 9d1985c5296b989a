"""What a table's comparison is: the budget every cell got and what it consumed, whether training had settled when
the budget ran out, whether the ranking was still moving, and older records' floors. Read from records only."""
from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from bench.convergence import CONVERGED_BELOW
from bench.tables import markdown_table

UNITS = {"steps": "steps", "samples": "samples", "flops": "FLOPs", "seconds": "seconds"}


def describe_budget(record: dict[str, Any]) -> str:
    train = record["config"]["train"]
    kind = train.get("budget", "steps")
    if kind == "steps":
        return f"{train['steps']} steps of {train['batch_size']} samples"
    return f"{train['budget_amount']:.4g} {UNITS[kind]} (batches of {train['batch_size']})"


def budget_line(rows) -> str:
    """The first statement of a report: the budget of the rows at the table's shared settings."""
    plain = [r for row in rows if not row.overrides for r in row.records]
    budgets = Counter(describe_budget(r) for r in plain)
    if not budgets:
        return ""
    kinds = {r["config"]["train"].get("budget", "steps") for r in plain}
    what = "the same number of steps" if kinds == {"steps"} else f"the same {UNITS[next(iter(kinds))]}"
    text = "; ".join(budgets)
    return (f"**Budget**: every method got {what}: {text} per cell. Rows marked with `--set` settings had "
            "another budget or variant; 'Budget and convergence' below says what each cell consumed and whether "
            "its training loss had settled.")


def converged(record: dict[str, Any]) -> bool | None:
    trend = (record.get("train") or {}).get("convergence")
    return None if trend is None else bool(trend["converged"])


def convergence_mark(row) -> str:
    states = [converged(r) for r in row.records]
    if not states or None in states:
        return "n/a"
    if all(states):
        return "yes"
    return "no" if not any(states) else f"{sum(states)}/{len(states)}"


def convergence_note(rows) -> str | None:
    """One sentence for the findings: how many methods were still improving at the end of the budget."""
    plain = [row for row in rows if not row.overrides and row.records]
    marks = {row.method: convergence_mark(row) for row in plain}
    if not marks or "n/a" in marks.values():
        return None
    moving = [m for m, mark in marks.items() if mark != "yes"]
    if not moving:
        return (f"Every method's training loss had settled (moved by less than {CONVERGED_BELOW:.0%} over the "
                "last fifth of training), so these verdicts describe converged cells at this budget.")
    return (f"**{len(moving)} of {len(marks)} methods were still improving** when the budget ran out (training "
            f"loss moved by {CONVERGED_BELOW:.0%} or more over the last fifth: {', '.join(moving)}): the verdicts "
            "below describe this budget, not the objectives' end points.")


def mean_of(records: list[dict[str, Any]], *path: str) -> float | None:
    values = []
    for r in records:
        value: Any = r
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values.append(float(value))
    return float(np.mean(values)) if values else None


def examples(records: list[dict[str, Any]], kind: str) -> float | None:
    """Mean over records of the examples seen per decoder ("decoders") or by the prior networks ("prior")."""
    values = []
    for r in records:
        seen = (r.get("budget") or {}).get("examples_seen") or {}
        chosen = [v for name, v in seen.items() if ("decoders" in name) == (kind == "decoders")]
        if chosen:
            values.append(np.mean(chosen) if kind == "decoders" else sum(chosen))
    return float(np.mean(values)) if values else None


def budget_section(rows) -> list[str]:
    header = ["Method", "budget", "steps", "samples", "examples per decoder", "prior examples", "GFLOP",
              "train min", "loss change, last fifth", "converged"]
    body = []
    for row in rows:
        if not row.records:
            continue
        records = row.records
        cells = [row.label, describe_budget(records[0])]
        for value, fmt in ((mean_of(records, "train", "steps"), "{:.0f}"),
                           (mean_of(records, "budget", "samples"), "{:.3g}"),
                           (examples(records, "decoders"), "{:.3g}"), (examples(records, "prior"), "{:.3g}"),
                           (None if (f := mean_of(records, "budget", "flops")) is None else f / 1e9, "{:.4g}"),
                           (None if (w := mean_of(records, "wall_time", "train")) is None else w / 60, "{:.1f}"),
                           (mean_of(records, "train", "convergence", "relative_change"), "{:+.1%}")):
            cells.append("n/a" if value is None else fmt.format(value))
        cells.append(convergence_mark(row))
        body.append(cells)
    if not body:
        return []
    return ["## Budget and convergence", "",
            "What each row's cells consumed (means over seeds): training steps and samples, the examples each "
            "decoder saw (mean over decoders) and the prior networks saw (routes that train them), matmul FLOPs "
            "(counted by torch.utils.flop_counter on probe steps), training wall time, and the relative change of "
            "the smoothed training loss over the last fifth of training; a cell counts as converged when that "
            f"change is below {CONVERGED_BELOW:.0%}. 'n/a': the record predates this accounting.", "",
            markdown_table(header, body), ""]


def ranking_section(rows, table) -> list[str]:
    """The quick evaluations at each quarter of training: how the methods ranked, and how much the ranking
    still changed between three quarters and the end (Kendall's τ; 1 = the same order)."""
    plain = [row for row in rows if not row.overrides and row.records]
    checks = {row.method: checks_of(row.records) for row in plain}
    checks = {m: c for m, c in checks.items() if c}
    if len(checks) < 2:
        return []
    fractions = sorted({f for c in checks.values() for f in c})
    lines = ["## Was the ranking still moving?", "",
             "Each cell evaluated a quick version of the task matrix (the first "
             f"{first_n(plain)} test tuples) at each quarter of its training. Methods are ranked on each metric at "
             "each quarter (1 = best); τ is Kendall's rank correlation between the ranking at three quarters and "
             "at the end (1: unchanged). The quick evaluations run without the bootstrap, so these orderings carry "
             "no intervals: read a swap of two methods whose final values are tied as noise.", ""]
    header = ["metric"] + [f"{f:.0%}" for f in fractions] + ["τ (75% vs 100%)"]
    body = []
    for spec in table:
        if spec.ideal == "match":
            continue  # ranked by the distance to the real value, which the quick evaluations do not score
        per_fraction = []
        for f in fractions:
            values = {m: c[f].get(spec.key) for m, c in checks.items() if f in c and c[f].get(spec.key) is not None}
            order = sorted(values, key=lambda m: values[m], reverse=spec.higher_is_better)
            per_fraction.append(order)
        if not per_fraction or not per_fraction[-1]:
            continue
        tau = rank_tau(per_fraction[-2], per_fraction[-1]) if len(per_fraction) > 1 else None
        body.append([spec.label] + [" > ".join(order) for order in per_fraction]
                    + ["n/a" if tau is None else f"{tau:.2f}"])
    return lines + [markdown_table(header, body), ""] if body else []


def checks_of(records: list[dict[str, Any]]) -> dict[float, dict[str, float]]:
    """fraction of training -> metric -> mean over seeds of the quick evaluation's value."""
    found: dict[float, dict[str, list[float]]] = {}
    for r in records:
        for check in (r.get("train") or {}).get("checks") or []:
            for key, value in check["metrics"].items():
                if value is not None:
                    found.setdefault(check["fraction"], {}).setdefault(key, []).append(value)
    return {f: {k: float(np.mean(v)) for k, v in metrics.items()} for f, metrics in found.items()}


def first_n(rows) -> str:
    sizes = {check.get("n") for row in rows for r in row.records
             for check in (r.get("train") or {}).get("checks") or []}
    return ", ".join(str(n) for n in sorted(s for s in sizes if s)) or "?"


def rank_tau(before: list[str], after: list[str]) -> float | None:
    common = [m for m in after if m in before]
    if len(common) < 3:
        return None
    return float(kendalltau([before.index(m) for m in common], [after.index(m) for m in common]).statistic)


def floors(rows, table) -> dict[str, float]:
    """metric key -> mean floor over the records that state one."""
    found: dict[str, list[float]] = {}
    for row in rows:
        for r in row.records:
            for spec in table:
                floor = (r["metrics"].get(spec.key) or {}).get("floor")
                if floor is not None:
                    found.setdefault(spec.key, []).append(floor)
    return {k: float(np.mean(v)) for k, v in found.items()}


def convergence_by_profile(records: list[dict[str, Any]], table) -> list[str]:
    """Every budget this suite has records for (profiles, and variants every method ran), side by side: what
    one seed of all methods cost, how many cells' loss had settled, and how much the ranking still moved. It
    answers from records which budget this problem needs before losses and rankings stop moving."""
    groups: dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]] = {}
    for r in records:
        if r.get("status") == "ok":
            groups.setdefault((r["profile"], tuple(r.get("overrides") or ())), []).append(r)
    header = ["profile", "settings", "budget", "methods", "cells", "Σ cell min (1 seed)", "converged",
              "largest loss change, last fifth", "ranking τ 75%→100% (median)"]
    body, settled, measured = [], [], 0
    for (profile, overrides), group in sorted(groups.items()):
        by_method: dict[str, list[dict[str, Any]]] = {}
        for r in group:
            by_method.setdefault(r["method"], []).append(r)
        if len(by_method) < 2:
            continue
        minutes = sum(mean_of(rs, "wall_time", "total") or 0.0 for rs in by_method.values()) / 60
        states = [converged(r) for r in group]
        known = [s for s in states if s is not None]
        changes = {m: mean_of(rs, "train", "convergence", "relative_change") for m, rs in by_method.items()}
        changes = {m: c for m, c in changes.items() if c is not None}
        worst = max(changes, key=lambda m: abs(changes[m])) if changes else None
        tau = median_tau({m: checks_of(rs) for m, rs in by_method.items()}, table)
        stale = " ‡" if any(r.get("_changed") for r in group) else ""
        body.append([f"`{profile}`{stale}", " ".join(f"`{o}`" for o in overrides) or "-", describe_budget(group[0]),
                     str(len(by_method)), str(len(group)), f"{minutes:.0f}",
                     f"{sum(known)}/{len(known)}" if known else "n/a",
                     f"{changes[worst]:+.1%} ({worst})" if worst else "n/a",
                     "n/a" if tau is None else f"{tau:.2f}"])
        complete = bool(states) and None not in states
        measured += complete
        if complete and all(states):
            settled.append(f"`{profile}`" + (f" with {' '.join(overrides)}" if overrides else "")
                           + f" ({minutes:.0f} cell-minutes per seed)")
    if len(body) < 2:
        return []
    if settled:
        verdict = "Budgets at which every cell's training loss had settled: " + "; ".join(settled) + "."
    elif measured:
        verdict = "**At none of the budgets measured here had every method's training loss settled.**"
    else:
        verdict = "None of these records carries its loss trend (they predate it): run them again to answer this."
    return ["## Which budget does this problem need?", "",
            "Every budget with records of at least two methods: the sum over methods of one seed's cell time "
            "(cells ran two at a time on the 2-core machine that made the cpu records, so a job took about half), "
            f"the cells whose smoothed loss moved by less than {CONVERGED_BELOW:.0%} over the last fifth, the "
            "method whose loss still moved most, and the median over metrics of Kendall's τ between the methods' "
            "ranking at three quarters of training and at the end (1: unchanged). ‡: made by other code than this "
            "checkout's.", "",
            markdown_table(header, body), "", verdict, ""]


def median_tau(checks: dict[str, dict[float, dict[str, float]]], table) -> float | None:
    checks = {m: c for m, c in checks.items() if len(c) >= 2}
    taus = []
    for spec in table:
        if spec.ideal == "match":
            continue
        orders = []
        for pick in (-2, -1):
            values = {m: c[sorted(c)[pick]].get(spec.key) for m, c in checks.items()}
            values = {m: v for m, v in values.items() if v is not None}
            orders.append(sorted(values, key=lambda m: values[m], reverse=spec.higher_is_better))
        tau = rank_tau(*orders)
        if tau is not None:
            taus.append(tau)
    return float(np.median(taus)) if taus else None
