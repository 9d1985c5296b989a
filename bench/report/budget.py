"""The model of what a table's comparison is: the budget every cell got and what it consumed, whether training had
settled when the budget ran out, whether the ranking was still moving, every budget the suite has records for, and
older records' floors. Read from records only; bench/report/render/budget.py formats it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from scipy.stats import kendalltau

from bench.core.convergence import loss_trend, settled
from bench.core.records import Record
from tasks import SUITES
from tasks.base import MetricSpec

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


@dataclass(frozen=True)
class Settled:
    """How many of the table-settings cells had settled on their held-out curves."""

    done: int  # settled cells
    known: int  # cells with a reading
    moving: list[str]  # methods with a cell that had not settled
    cells: int
    methods: int


def settled_state(rows) -> Settled:
    done, known, moving = settled_counts(rows)
    plain = [row for row in rows if not row.overrides and row.records]
    return Settled(done, known, moving, sum(len(row.records) for row in plain), len(plain))


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


@dataclass(frozen=True)
class MetricMoves:
    spec: MetricSpec
    orders: list[list[str]]  # methods best first at each fraction shown
    tau: float | None  # Kendall's τ between three quarters and the end


@dataclass(frozen=True)
class RankingMoves:
    """The quick evaluations during training: the methods' order on each metric at each quarter."""

    quick_n: str  # the quick evaluations' tuple counts
    fractions: list[float]
    metrics: list[MetricMoves]


def ranking_moves(rows, table) -> RankingMoves | None:
    plain = [row for row in rows if not row.overrides and row.records]
    checks = {row.method: checks_of(row.records) for row in plain}
    checks = {m: c for m, c in checks.items() if c}
    if len(checks) < 2:
        return None
    fractions = sorted({f for c in checks.values() for f in c})
    shown = [f for f in fractions if any(abs(f - q) < 1e-9 for q in QUARTERS)] or fractions
    metrics = []
    for spec in table:
        if spec.ideal == "match":
            continue  # ranked by the distance to the real value, which the quick evaluations do not score
        per_fraction = [ranking(checks, f, spec) for f in shown]
        if not per_fraction or not per_fraction[-1]:
            continue
        metrics.append(MetricMoves(spec, per_fraction, rank_tau(ranking(checks, 0.75, spec), per_fraction[-1])))
    return RankingMoves(first_n(plain), shown, metrics) if metrics else None


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


@dataclass(frozen=True)
class BudgetRow:
    """One budget (a profile, or a variant at least two methods ran) and what it took and reached."""

    profile: str
    overrides: tuple[str, ...]
    budget: str
    data: dict[str, Any]  # the data settings that differ between budgets
    networks: str
    methods: int
    cells: int
    cell_minutes: float  # the sum over methods of one seed's cell time
    job_minutes: float | None  # the job's wall clock per seed
    settled: tuple[int, int] | None  # (settled, judged) cells; None: no cell has a reading
    moving: list[str]  # methods with a cell that had not settled
    loss: tuple[float, str] | None  # the largest relative loss change over the last fifth, and whose
    tau: float | None  # median over metrics of Kendall's τ between three quarters and the end
    stale: bool


@dataclass(frozen=True)
class Budgets:
    """Every budget this suite has records for, side by side: which budget does this problem need?"""

    rows: list[BudgetRow]
    settled: list[BudgetRow]  # budgets at which every cell had settled
    measured: int  # budgets whose every cell has a reading
    machines: list[str]


def budget_row(profile: str, overrides: tuple[str, ...], group: list[Record], differing: list[str],
               table) -> BudgetRow | None:
    by_method: dict[str, list[Record]] = {}
    for r in group:
        by_method.setdefault(r.method, []).append(r)
    if len(by_method) < 2:
        return None
    busy = busy_minutes(group)  # the seeds of a job interleave: its wall clock over the seeds it ran
    data = (group[0].get("config") or {}).get("data") or {}
    states = [converged(r) for r in group]
    known = [s for s in states if s is not None]
    changes = {m: loss_change(rs) for m, rs in by_method.items()}
    changes = {m: c for m, c in changes.items() if c is not None}
    worst = max(changes, key=lambda m: abs(changes[m])) if changes else None
    return BudgetRow(profile, overrides, describe_budget(group[0]), {k: data.get(k) for k in differing},
                     network_size(group[0]), len(by_method), len(group),
                     sum(mean_of(rs, "wall_time", "total") or 0.0 for rs in by_method.values()) / 60,
                     None if busy is None else busy / len({r.seed for r in group}),
                     (sum(known), len(known)) if known else None,
                     sorted({r.method for r, state in zip(group, states) if state is False}),
                     (changes[worst], worst) if worst else None,
                     median_tau({m: checks_of(rs) for m, rs in by_method.items()}, table),
                     any(r.changed for r in group))


def budgets(records: list[Record], table) -> Budgets | None:
    """Every budget with records of at least two methods; None with fewer than two such budgets."""
    groups: dict[tuple[str, tuple[str, ...]], list[Record]] = {}
    for r in records:
        if r.status == "ok":
            groups.setdefault((r.profile, tuple(r.overrides or ())), []).append(r)
    datas = [((g[0].get("config") or {}).get("data") or {}) for g in groups.values()]
    differing = sorted({k for d in datas for k in d if len({repr(x.get(k)) for x in datas}) > 1})
    rows = [row for (profile, overrides), group in sorted(groups.items())
            if (row := budget_row(profile, overrides, group, differing, table)) is not None]
    if len(rows) < 2:
        return None
    machines = sorted({f"{(r.get('device') or {}).get('type', '?')}"
                       + (f" ({r.device['threads']} thread per cell)" if r.device.get("threads")
                          else "") for g in groups.values() for r in g})
    measured = [row for row in rows if row.settled is not None and row.settled[1] == row.cells]  # every cell read
    return Budgets(rows, [row for row in measured if row.settled[0] == row.cells], len(measured), machines)


def median_tau(checks: dict[str, dict[float, dict[str, float]]], table) -> float | None:
    taus = [rank_tau(ranking(checks, 0.75, spec), ranking(checks, 1.0, spec))
            for spec in table if spec.ideal != "match"]
    taus = [t for t in taus if t is not None]
    return float(np.median(taus)) if taus else None
