"""The results model of a report's appendix, computed from the rows and records once: what each column can
separate, the findings again per variant, each direction's values, the other profiles' rows, the settings shared
by the cells, the records made by other code, the failed and interrupted cells, and what the reading guide counts.
The renderers (bench/report/render/sections.py) format these values and decide nothing."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from base.results import Row
from bench.core.fingerprint import ROOT
from bench.core.records import Record
from bench.report.budget import Settled, convergence_mark, settled_state
from bench.report.rows import collect_rows, common_overrides
from tasks.base import MetricSpec
from tasks.findings import Finding
from tasks.verdicts import Estimate


def mean_of(row: Row, key: str) -> float | None:
    """The mean over seeds of one column's value (None where the row has none)."""
    values = row.values(key)
    return float(np.mean(values)) if values else None


# what each column can separate -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ScopeColumn:
    spec: MetricSpec
    scored: int  # the plain rows with a rank in this column
    best: list[str]  # the rows at rank 1
    top: Estimate  # the first of them
    oracle: Estimate | None  # the oracle reference row's value

    @property
    def separates(self) -> bool:
        return len(self.best) < self.scored


@dataclass(frozen=True)
class Scope:
    rows: int  # the table's plain rows
    stale: int  # ... made by other code
    columns: list[ScopeColumn]

    @property
    def blind(self) -> list[str]:
        return [column.spec.label for column in self.columns if not column.separates]


def scope(table) -> Scope | None:
    """Per column, whether some method is beaten by another, and the best value beside the oracle reference's."""
    plain = table.methods
    if len(plain) < 2:
        return None
    oracle = next((line for line in table.lines if line.label == "reference: oracle"), None)
    columns = []
    for spec in table.specs:
        scored = [line for line in plain if line.values[spec.key].rank is not None]
        if len(scored) < 2:
            continue
        best = [line for line in scored if line.values[spec.key].best]
        columns.append(ScopeColumn(spec, len(scored), [line.label for line in best], best[0].values[spec.key].estimate,
                                   None if oracle is None else oracle.values[spec.key].estimate))
    return Scope(len(plain), sum(line.stale for line in plain), columns) if columns else None


# records made by other code ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StaleCommit:
    """The records of one commit made by other code: their methods, the notes the freshness check left, the
    result-determining files that differ and still exist, and how many differing files were removed since."""

    commit: str
    records: int
    methods: list[str]
    notes: list[str]
    differ: list[str]
    gone: int


def stale_commits(records: list[Record]) -> list[StaleCommit]:
    by_commit: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        if r.changed and r.status == "ok":
            by_commit[r.git.get("commit", "unknown")[:10]].append(r)
    out = []
    for commit, group in sorted(by_commit.items()):
        changed = sorted({f for r in group for f in r.changed})
        notes = [f for f in changed if f.startswith("(")]
        present = [f for f in changed if not f.startswith("(") and (ROOT / f).exists()]
        out.append(StaleCommit(commit, len(group), sorted({r.method for r in group}), notes, present,
                               len(changed) - len(notes) - len(present)))
    return out


# the findings again per variant ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SideBySide:
    """One method at the table's settings → at a variant: steps trained, convergence, each column's mean."""

    method: str
    steps: tuple[str, str]
    settled: tuple[str, str]
    means: dict[str, tuple[float, float] | None]  # column key -> (table row, variant row)


@dataclass(frozen=True)
class VariantFindings:
    overrides: tuple[str, ...]
    methods: int
    missing: list[str]  # the table's methods that did not run it
    seeds: tuple[int, int]  # fewest and most seeds per method
    stale: bool
    settled: Settled
    side_by_side: list[SideBySide]
    findings: list[Finding]


def steps_text(row: Row) -> str:
    steps = sorted({r.train.get("steps") for r in row.records} - {None})
    return "/".join(str(s) for s in steps) or "?"


def side_by_side(plain: list[Row], variant: list[Row], table: list[MetricSpec]) -> list[SideBySide]:
    by_method = {row.method: row for row in variant}
    out = []
    for row in plain:
        other = by_method.get(row.method)
        if other is None:
            continue
        means = {}
        for spec in table:
            a, b = mean_of(row, spec.key), mean_of(other, spec.key)
            means[spec.key] = None if a is None or b is None else (a, b)
        out.append(SideBySide(row.method, (steps_text(row), steps_text(other)),
                              (convergence_mark(row), convergence_mark(other)), means))
    return out


def variant_findings(rows: list[Row], suite_cls) -> list[VariantFindings]:
    """The findings again for each --set variant that at least two methods were run with, so a reader sees whether
    a conclusion depends on it."""
    plain = {row.method for row in rows if not row.overrides}
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.overrides and row.records:
            groups.setdefault(tuple(row.overrides), []).append(row)
    out = []
    for overrides, group in groups.items():
        if len({row.method for row in group}) < 2:
            continue  # a one-method variant is a row of the main table; there is nothing to compare it with
        as_plain = [replace(row, overrides=[]) for row in group]
        counts = [len(row.records) for row in group]
        out.append(VariantFindings(overrides, len(group), sorted(plain - {row.method for row in group}),
                                   (min(counts), max(counts)), any(row.stale for row in group), settled_state(as_plain),
                                   side_by_side([row for row in rows if not row.overrides], group, suite_cls.table),
                                   suite_cls.findings(as_plain)))
    return out


# each direction's values -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Directions:
    """One column's directions: direction -> method -> (mean over seeds, SE or None)."""

    spec: MetricSpec
    values: dict[str, dict[str, tuple[float, float | None]]]


def direction_value(values: list[float], errors: list[float]) -> tuple[float, float | None]:
    """The mean over seeds and an SE that combines the seeds' spread over √seeds with the mean tuple SE (the test
    tuples are the same for every seed, so their noise does not average out); records keep each direction's SE,
    not its replicates."""
    spread = np.var(values, ddof=1) / len(values) if len(values) > 1 else 0.0
    tuples = float(np.mean(np.square(errors))) if len(errors) == len(values) else None
    se = math.sqrt(spread + tuples) if tuples is not None else (math.sqrt(spread) if spread else None)
    return float(np.mean(values)), se or None


def per_direction(rows: list[Row], table: list[MetricSpec]) -> tuple[list[str], list[Directions]]:
    """(the plain rows' methods, each column's directions)."""
    plain = [row for row in rows if not row.overrides]
    out = []
    for spec in table:
        directions: dict[str, dict[str, tuple[float, float | None]]] = defaultdict(dict)
        for row in plain:
            values: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, list[float]] = defaultdict(list)
            for r in row.records:
                found = r.metrics.get(spec.key) or {}
                for d, v in found.get("per_direction", {}).items():
                    values[d].append(v)
                    if (se := (found.get("per_direction_se") or {}).get(d)) is not None:
                        errors[d].append(se)
            for d, vs in values.items():
                directions[d][row.method] = direction_value(vs, errors[d])
        if directions:
            out.append(Directions(spec, dict(directions)))
    return [row.method for row in plain], out


# the same methods at other profiles --------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProfilePair:
    """This profile's plain rows beside another's: per method, each column's mean at both."""

    profile: str
    other: str
    methods: list[str]
    stale: dict[str, bool]  # method -> its records at either profile made by other code
    means: dict[str, dict[str, tuple[float | None, float | None]]]  # method -> column key -> (this, other)
    seeds: tuple[int, int]  # fewest and most seeds per mean


def other_profiles(all_records: list[Record], profile: str, table: list[MetricSpec]) -> list[ProfilePair]:
    others = sorted({r.profile for r in all_records} - {profile})
    by_profile = {p: {row.method: row for row in collect_rows([r for r in all_records if r.profile == p])
                      if not row.overrides} for p in [profile, *others]}
    out = []
    for other in others:
        methods = [m for m in by_profile[profile] if m in by_profile[other]]
        if not methods:
            continue
        pair = (by_profile[profile], by_profile[other])
        seeds = sorted({len(rows[m].records) for rows in pair for m in methods})
        out.append(ProfilePair(profile, other, methods, {m: pair[0][m].stale or pair[1][m].stale for m in methods},
                               {m: {spec.key: (mean_of(pair[0][m], spec.key), mean_of(pair[1][m], spec.key))
                                    for spec in table} for m in methods}, (seeds[0], seeds[-1])))
    return out


# settings, failures, what the reading guide counts -----------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    common: list[str]  # --set settings every cell was run with
    shared: dict[str, Any]  # flattened config key -> the value every cell shares
    varying: list[str]  # keys whose value differs between rows
    notes: list[str]  # the suite's deviations from the paper and choices it leaves open
    options: dict[str, dict[str, Any]]  # method -> its options (the first record's)


def flatten(config: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v if not isinstance(v, list) else tuple(v)
    return out


def settings(records: list[Record], suite_cls) -> Settings:
    flat = [flatten(r.config) for r in records]
    keys = sorted(set().union(*flat))
    shared = {k: flat[0].get(k) for k in keys if all(f.get(k) == flat[0].get(k) for f in flat)}
    options: dict[str, dict[str, Any]] = {}
    for r in records:
        options.setdefault(r.method, r.config.get("options") or {})
    return Settings(common_overrides(records), shared,
                    sorted(k for k in keys if k not in shared and k not in ("method", "seed")), suite_cls.notes(),
                    options)


@dataclass(frozen=True)
class Failures:
    failed: list[tuple[str, int, str]]  # (row label, seed, reason)
    stopped: list[tuple[str, int, str, int | None]]  # (method, seed, reason, step reached)


def failures(rows: list[Row], records: list[Record]) -> Failures:
    return Failures([(row.label, r.seed, r.reason) for row in rows for r in row.failed],
                    [(r.method, r.seed, r.reason, r.reached_step) for r in records if r.status == "interrupted"])


@dataclass(frozen=True)
class Counts:
    """What the reading guide counts: the records, those ok, whether every row has one seed, and the rows from
    records older than the tuple bootstrap (their ± is the seeds' spread only)."""

    records: int
    ok: int
    one_seed: bool
    bare: int


def counts(rows: list[Row], records: list[Record], table) -> Counts:
    ok = [r for row in rows for r in row.records]
    bare = {row.label for row in rows for r in row.records
            if any(m.get("value") is not None and "replicates" not in m for k, m in r.metrics.items()
                   if not k.startswith(("reference:", "verifier/")))}
    return Counts(len(records), len(ok), {line.seeds for line in table.methods} == {1}, len(bare))
