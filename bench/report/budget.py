"""What a table's comparison is: the budget every cell got and what it consumed, whether training had settled when
the budget ran out, whether the ranking was still moving, and older records' floors. Read from records only."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from bench.core.convergence import CONVERGED_BELOW, SETTLED_RULE, loss_trend, settled
from bench.core.records import Record
from bench.report.tables import markdown_table
from tasks import SUITES

UNITS = {"steps": "steps", "samples": "samples", "flops": "FLOPs", "seconds": "seconds"}


def describe_budget(record: Record) -> str:
    train = record.config["train"]
    kind = train.get("budget", "steps")
    if kind == "steps":
        return f"{train['steps']} steps of {train['batch_size']} samples"
    text = f"{train['budget_amount']:.4g} {UNITS[kind]} (batches of {train['batch_size']})"
    # steps bought by seconds depend on the machine's speed: the same config makes other records elsewhere
    return text + (", machine-dependent" if kind == "seconds" else "")


def held_out(record: Record) -> dict[str, Any] | None:
    """The cell's held-out convergence reading (bench/core/convergence.py) on its suite's headline metrics, from the
    quick evaluations it recorded."""
    keys = [spec.key for spec in SUITES.get(record.suite).headline_metrics()] if record.suite in SUITES else None
    return settled(record.train.get("checks") or [], keys)


def converged(record: Record) -> bool | None:
    """Settled on its held-out curves; None when the record predates validation curves with the oracle's values."""
    reading = held_out(record)
    return None if reading is None else bool(reading["settled"])


def convergence_mark(row) -> str:
    states = [converged(r) for r in row.records]
    if not states or None in states:
        return "n/a"
    if all(states):
        return "yes"
    return "no" if not any(states) else f"{sum(states)}/{len(states)}"


def still_moving(records: list[Record]) -> list[str]:
    """The headline metrics whose distance to the ideal still changed over the last quarter in any of these cells."""
    return sorted({key for r in records for key in (held_out(r) or {}).get("unsettled", [])})


def settled_counts(rows) -> tuple[int, int, list[str]]:
    """(settled cells, cells with a reading, methods with an unsettled cell) over the rows at the table's
    settings."""
    plain = [row for row in rows if not row.overrides and row.records]
    states = {row.method: [converged(r) for r in row.records] for row in plain}
    known = [s for v in states.values() for s in v if s is not None]
    return sum(known), len(known), [m for m, v in states.items() if False in v]


def convergence_note(rows) -> str | None:
    """One sentence for the findings: whether every cell had settled on its held-out curves."""
    done, known, moving = settled_counts(rows)
    plain = [row for row in rows if not row.overrides and row.records]
    cells = sum(len(row.records) for row in plain)
    if not known:
        return None
    unread = "" if known == cells else f" ({cells - known} cells predate held-out curves and are not judged)"
    if not moving:
        return (f"Every judged cell had settled ({done} of {known}; settled: {SETTLED_RULE}){unread}, so these "
                "verdicts describe trained models at this budget.")
    return (f"**{len(moving)} of {len(plain)} methods had not settled** in every cell ({done} of {known} cells "
            f"settled{unread}; not settled: {', '.join(moving)}): the verdicts below describe this budget, not "
            "the objectives' end points.")


def mean_of(records: list[Record], field: str, *path: str) -> float | None:
    """The mean over records of a number inside one of their fields (e.g. budget → flops)."""
    values = []
    for r in records:
        value: Any = getattr(r, field)
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if isinstance(value, (int, float)):
            values.append(float(value))
    return float(np.mean(values)) if values else None


def loss_change(records: list[Record]) -> float | None:
    """The mean over records of the training loss's relative change over the last fifth, read from each record's
    loss curve by today's bench/core/convergence.py (a reading of the record, not part of it)."""
    trends = [loss_trend(r.train.get("loss_curve") or []) for r in records]
    values = [t["relative_change"] for t in trends if t is not None]
    return float(np.mean(values)) if values else None


def examples(records: list[Record], kind: str) -> float | None:
    """Mean over records of the examples seen per decoder ("decoders") or by the prior networks ("prior")."""
    values = []
    for r in records:
        seen = r.budget.get("examples_seen") or {}
        chosen = [v for name, v in seen.items() if ("decoders" in name) == (kind == "decoders")]
        if chosen:
            values.append(np.mean(chosen) if kind == "decoders" else sum(chosen))
    return float(np.mean(values)) if values else None


@dataclass(frozen=True)
class Consumption:
    """What one row's cells consumed and how far they got (means over seeds; None where the records predate it)."""

    label: str
    budget: str
    steps: float | None
    samples: float | None
    decoder_examples: float | None  # examples each decoder saw (mean over decoders)
    prior_examples: float | None  # examples the prior networks saw
    gflop: float | None
    gflop_probed: bool  # estimated from the probe, as records before the count
    train_minutes: float | None
    loss_change: float | None  # the smoothed training loss's relative change over the last fifth
    moving: list[str]  # held-out metrics that moved more than their interval over the last quarter
    settled: str


def consumption(row) -> Consumption:
    records = row.records
    flops = mean_of(records, "budget", "flops")
    wall = mean_of(records, "wall_time", "train")
    return Consumption(row.label, describe_budget(records[0]), mean_of(records, "train", "steps"),
                       mean_of(records, "budget", "samples"), examples(records, "decoders"),
                       examples(records, "prior"), None if flops is None else flops / 1e9,
                       flops is not None and not all(r.budget.get("flops_counted") for r in records),
                       None if wall is None else wall / 60, loss_change(records), still_moving(records),
                       convergence_mark(row))


QUARTERS = (0.25, 0.5, 0.75, 1.0)  # the checks the ranking table shows (cells check at every eighth)


def ranking_section(rows, table) -> list[str]:
    """The quick evaluations during training: how the methods ranked at each quarter, and how much the ranking
    still changed between three quarters and the end (Kendall's τ; 1 = the same order)."""
    plain = [row for row in rows if not row.overrides and row.records]
    checks = {row.method: checks_of(row.records) for row in plain}
    checks = {m: c for m, c in checks.items() if c}
    if len(checks) < 2:
        return []
    fractions = sorted({f for c in checks.values() for f in c})
    shown = [f for f in fractions if any(abs(f - q) < 1e-9 for q in QUARTERS)] or fractions
    lines = ["## Was the ranking still moving?", "",
             "Each cell evaluated a quick version of the task matrix (the first "
             f"{first_n(plain)} test tuples, the same noise at every check and for every method) during its "
             "training. Methods are ranked on each metric at each quarter (1 = best); τ is Kendall's rank "
             "correlation between the ranking at three quarters and at the end (1: unchanged). These orderings "
             "carry no intervals: read a swap of two methods whose final values are tied as noise.", ""]
    header = ["metric"] + [f"{f:.0%}" for f in shown] + ["τ (75% vs 100%)"]
    body = []
    for spec in table:
        if spec.ideal == "match":
            continue  # ranked by the distance to the real value, which the quick evaluations do not score
        per_fraction = [ranking(checks, f, spec) for f in shown]
        if not per_fraction or not per_fraction[-1]:
            continue
        tau = rank_tau(ranking(checks, 0.75, spec), per_fraction[-1])
        body.append([spec.label] + [" > ".join(order) for order in per_fraction]
                    + ["n/a" if tau is None else f"{tau:.2f}"])
    return lines + [markdown_table(header, body), ""] if body else []


def ranking(checks: dict[str, dict[float, dict[str, float]]], fraction: float, spec) -> list[str]:
    """Methods ordered best first on one metric at the check nearest to `fraction` of training."""
    values = {}
    for method, by_fraction in checks.items():
        if not by_fraction:
            continue
        nearest = min(by_fraction, key=lambda f: abs(f - fraction))
        if abs(nearest - fraction) < 1e-9 and by_fraction[nearest].get(spec.key) is not None:
            values[method] = by_fraction[nearest][spec.key]
    return sorted(values, key=lambda m: values[m], reverse=spec.higher_is_better)


def checks_of(records: list[Record]) -> dict[float, dict[str, float]]:
    """fraction of training -> metric -> mean over seeds of the quick evaluation's value."""
    found: dict[float, dict[str, list[float]]] = {}
    for r in records:
        for check in r.train.get("checks") or []:
            for key, value in check["metrics"].items():
                if value is not None:
                    found.setdefault(check["fraction"], {}).setdefault(key, []).append(value)
    return {f: {k: float(np.mean(v)) for k, v in metrics.items()} for f, metrics in found.items()}


def first_n(rows) -> str:
    sizes = {check.get("n") for row in rows for r in row.records
             for check in r.train.get("checks") or []}
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
                floor = (r.metrics.get(spec.key) or {}).get("floor")
                if floor is not None:
                    found.setdefault(spec.key, []).append(floor)
    return {k: float(np.mean(v)) for k, v in found.items()}


def network_size(record: Record) -> str:
    """Width × blocks of the encoders, decoders and prior, as one label when they agree."""
    model = record.config.get("model") or {}
    parts = {f"{model.get(f'{net}_width')}×{model.get(f'{net}_blocks')}" for net in ("encoder", "decoder", "prior")}
    return parts.pop() if len(parts) == 1 else "/".join(sorted(parts))


def busy_minutes(records: list[Record]) -> float | None:
    """Wall-clock minutes during which at least one of these cells ran (the union of their started→finished
    spans): what the job took with its cells side by side, without the gaps between separate runs."""
    spans = sorted((datetime.fromisoformat(r.started_at), datetime.fromisoformat(r.finished_at))
                   for r in records if r.started_at and r.finished_at)
    if not spans:
        return None
    total, (start, end) = 0.0, spans[0]
    for s, e in spans[1:]:
        if s > end:
            total, start = total + (end - start).total_seconds(), s
        end = max(end, e)
    return (total + (end - start).total_seconds()) / 60


def convergence_by_profile(records: list[Record], table) -> list[str]:
    """Every budget this suite has records for (profiles, and variants every method ran), side by side: its size,
    what one seed of all methods cost, how many cells had settled on their held-out curves and which methods had
    not, and how much the ranking still moved. It answers from records which budget this problem needs and why
    the default profile is the one it is."""
    groups: dict[tuple[str, tuple[str, ...]], list[Record]] = {}
    for r in records:
        if r.status == "ok":
            groups.setdefault((r.profile, tuple(r.overrides or ())), []).append(r)
    header = ["profile", "settings", "budget", "data", "networks (width×blocks)", "methods", "cells",
              "Σ cell min (1 seed)", "job min per seed", "settled", "not settled", "largest loss change, last fifth",
              "ranking τ 75%→100% (median)"]
    datas = [((g[0].get("config") or {}).get("data") or {}) for g in groups.values()]
    differing = sorted({k for d in datas for k in d if len({repr(x.get(k)) for x in datas}) > 1})
    body, settled_budgets, measured = [], [], 0
    for (profile, overrides), group in sorted(groups.items()):
        by_method: dict[str, list[Record]] = {}
        for r in group:
            by_method.setdefault(r.method, []).append(r)
        if len(by_method) < 2:
            continue
        minutes = sum(mean_of(rs, "wall_time", "total") or 0.0 for rs in by_method.values()) / 60
        seeds = {r.seed for r in group}
        busy = busy_minutes(group)  # the seeds of a job interleave: its wall clock over the seeds it ran
        job = None if busy is None else busy / len(seeds)
        data = (group[0].get("config") or {}).get("data") or {}
        states = [converged(r) for r in group]
        known = [s for s in states if s is not None]
        moving = sorted({r.method for r in group if converged(r) is False})
        changes = {m: loss_change(rs) for m, rs in by_method.items()}
        changes = {m: c for m, c in changes.items() if c is not None}
        worst = max(changes, key=lambda m: abs(changes[m])) if changes else None
        tau = median_tau({m: checks_of(rs) for m, rs in by_method.items()}, table)
        stale = " ‡" if any(r.changed for r in group) else ""
        body.append([f"`{profile}`{stale}", " ".join(f"`{o}`" for o in overrides) or "-", describe_budget(group[0]),
                     " ".join(f"{k}={data.get(k)}" for k in differing) or "-", network_size(group[0]),
                     str(len(by_method)), str(len(group)), f"{minutes:.0f}",
                     "n/a" if job is None else f"{job:.0f}",
                     f"{sum(known)}/{len(known)}" if known else "n/a",
                     (", ".join(moving) or "-") if known else "n/a",
                     f"{changes[worst]:+.1%} ({worst})" if worst else "n/a",
                     "n/a" if tau is None else f"{tau:.2f}"])
        complete = bool(states) and None not in states
        measured += complete
        if complete and all(states):
            settled_budgets.append(f"`{profile}`" + (f" with {' '.join(overrides)}" if overrides else "")
                                   + f" ({minutes:.0f} cell-minutes per seed)")
    if len(body) < 2:
        return []
    if settled_budgets:
        verdict = ("Budgets at which every cell had settled on its held-out curves: " + "; ".join(settled_budgets)
                   + ".")
    elif measured:
        verdict = "**At none of the budgets measured here had every cell settled on its held-out curves.**"
    else:
        verdict = ("None of these records carries held-out convergence curves (they predate them): run them "
                   "again to answer this.")
    machines = sorted({f"{(r.get('device') or {}).get('type', '?')}"
                       + (f" ({r.device['threads']} thread per cell)" if r.device.get("threads")
                          else "") for g in groups.values() for r in g})
    return ["## Which budget does this problem need?", "",
            "Every budget with records of at least two methods: the data settings that differ between them, its "
            "networks, the sum over methods of one seed's cell time, the job's wall-clock time per seed (the union "
            "of its cells' started→finished spans, with cells side by side, divided by the seeds it ran; devices: "
            f"{', '.join(machines)}), the cells that had settled "
            f"({SETTLED_RULE}) and the methods with a cell that had not, the method whose smoothed training loss "
            f"still moved most over the last fifth (secondary; {CONVERGED_BELOW:.0%} reads as flat), and the median "
            "over metrics of Kendall's τ between the methods' ranking at three quarters of training and at the end "
            "(1: unchanged). ‡: made by other code than this checkout's.", "",
            markdown_table(header, body), "", verdict, ""]


def median_tau(checks: dict[str, dict[float, dict[str, float]]], table) -> float | None:
    taus = [rank_tau(ranking(checks, 0.75, spec), ranking(checks, 1.0, spec))
            for spec in table if spec.ideal != "match"]
    taus = [t for t in taus if t is not None]
    return float(np.median(taus)) if taus else None
