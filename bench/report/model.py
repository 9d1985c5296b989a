"""The results model of a report, built once from the records of one suite and profile, as plain objects: each table
(the current code's plain rows, an equal-compute variant, the suite's further metrics) with every row's estimate of
every column and its rank, the reference rows and the paper's values; the headline facts (budget, seeds, cells that
settled, records left out); the paper's findings with their verdicts; each variant as the change it makes against
its method's plain row. The renderers (bench/report/render/) format it and decide nothing.

A rank is 1 + the number of rows that beat this one on the column: their paired difference excludes 0 with the
family-wise error over the column's pairs held at 5 % (Holm; tasks/verdicts.py). Rows that beat nobody and that
nobody beats share a rank: a tie. Rank 1 is the best; every row at rank 1 is shown as best."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from itertools import combinations

import numpy as np

from base.results import Row
from bench.core.records import Record
from bench.core.tuned import Tuned
from bench.figures.curves import Panel
from bench.report import appendix
from bench.report.agreement import Agreement, agreement
from bench.report.budget import (
    Budgets,
    Consumption,
    RankingMoves,
    budgets,
    consumption,
    convergence_mark,
    describe_budget,
    ranking_moves,
    settled_counts,
)
from bench.report.learning import LearningModel, learning_model, learning_panels
from bench.report.media import Media, media
from bench.report.rows import collect_rows, tuned_view
from bench.report.rungs import Pair, Rung, Stability, adjacent_pairs, finding_stability, ladder
from bench.report.tuning import TuningModel, tuning_model, tuning_panels
from tasks import SUITES
from tasks.base import MetricSpec
from tasks.findings import Finding
from tasks.verdicts import Estimate, Interval, advantage, compare, estimate, holm, real_value, reference_estimate

FLOOR_LABEL = "oracle (older records: real data in the generator's place)"


# tables ------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Value:
    """One row's value of one column."""

    estimate: Estimate | None  # None: no number (see `supported`)
    supported: bool = True  # False: the method cannot do this task
    rank: int | None = None  # among the table's method rows; None for reference rows or where nothing ranks
    shared: bool = False  # another row has the same rank (a tie)
    paper: float | None = None  # the paper's published value of this row and column

    @property
    def best(self) -> bool:
        return self.rank == 1


@dataclass
class Line:
    """One row of a table: a method (at the table's settings), a reference row, a method the paper has and this
    table does not, or the floor older records stated."""

    label: str
    kind: str  # method | reference | paper | floor | variant
    values: dict[str, Value]
    method: str = ""
    config_hash: str = ""
    variant: str = ""  # the --set settings that set a variant row apart
    seeds: int = 0
    failed: int = 0
    settled: str = ""  # yes | no | k/n | n/a: every cell had settled on its held-out curves
    stale: bool = False  # made by other code than this checkout's
    published: bool = False  # the paper reports this method
    why: str = ""  # a paper line: why this table has no row of ours for it


@dataclass
class Table:
    specs: list[MetricSpec]
    lines: list[Line]
    paper: bool  # the paper's values sit beside ours (the paper's metric is this one)

    @property
    def methods(self) -> list[Line]:
        return [line for line in self.lines if line.kind == "method"]


def ranks(found: dict[int, Estimate], spec: MetricSpec, real: Estimate | None) -> dict[int, int]:
    """Row index -> 1 + the rows that beat it (one paired comparison per pair of rows, Holm over them all)."""
    if spec.ideal == "match" and real is None:
        return {}  # nothing to match: no row is better than another
    pairs = list(combinations(found, 2))
    gaps = [advantage(found[a], found[b], spec.ideal, real) for a, b in pairs]
    beaten: Counter[int] = Counter()
    for (a, b), gap, decided in zip(pairs, gaps, holm([gap.p_value for gap in gaps])):
        if decided:
            beaten[b if gap.value > 0 else a] += 1
    return {i: 1 + beaten[i] for i in found}


def rank_against(found: Estimate | None, others: list[Estimate | None], spec: MetricSpec,
                 real: Estimate | None) -> int | None:
    """The rank `found` would take among `others` (1 + those that beat it, Holm over its comparisons)."""
    if found is None or (spec.ideal == "match" and real is None):
        return None
    gaps = [advantage(other, found, spec.ideal, real) for other in others if other is not None]
    return 1 + sum(decided and gap.value > 0 for gap, decided in zip(gaps, holm([gap.p_value for gap in gaps])))


def column(rows: list[Row], spec: MetricSpec) -> list[Value]:
    """Each row's value of one column with its rank among these rows."""
    found = {i: e for i, row in enumerate(rows) if (e := estimate(row, spec.key)) is not None}
    ranked = ranks(found, spec, real_value(rows, spec))
    counts = Counter(ranked.values())
    return [Value(found.get(i), row.values(spec.key) is not None, ranked.get(i), counts[ranked.get(i)] > 1)
            for i, row in enumerate(rows)]


def build_table(rows: list[Row], specs: list[MetricSpec], paper: dict | None,
                left_out: frozenset[str] = frozenset()) -> Table:
    """The table of these rows (each a method at the table's settings), then the methods the paper has and these
    rows do not, then the reference rows (or, for records older than reference rows, the floors they stated).
    `paper` None: the paper's metric is another one, so its values are not set beside ours."""
    columns = {spec.key: column(rows, spec) for spec in specs}
    published = paper or {}
    lines = []
    for i, row in enumerate(rows):
        values = {key: replace(col[i], paper=published.get(row.method, {}).get(key)) for key, col in columns.items()}
        lines.append(Line(row.label, "method", values, method=row.method, config_hash=row.config_hash,
                          seeds=len(row.records), failed=len(row.failed), settled=convergence_mark(row),
                          stale=row.stale, published=row.method in published))
    shown = {row.method for row in rows}
    for name, values in published.items():
        if name not in shown and any(values.get(spec.key) is not None for spec in specs):
            why = "our records by other code left out" if name in left_out else "not run here"
            lines.append(Line(name, "paper", {spec.key: Value(None, paper=values.get(spec.key)) for spec in specs},
                              method=name, published=True, why=why))
    names = reference_names(rows)
    for name in names:
        found = {spec.key: reference_estimate(rows, name, spec.key) for spec in specs}
        lines.append(Line(f"reference: {name}", "reference",  # a reference without a value cannot do that task
                          {key: Value(value, supported=value is not None) for key, value in found.items()}))
    floor = {} if names else floors(rows, specs)
    if floor:
        lines.append(Line(FLOOR_LABEL, "floor", {key: Value(Estimate({0: value}, exact=True))
                                                 for key, value in floor.items()}))
    return Table(list(specs), lines, paper is not None)


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


def reference_names(rows: list[Row]) -> list[str]:
    """The reference rows the records keep ("reference:<name>/<key>"), in record order."""
    for row in rows:
        for record in row.records:
            names = [key.removeprefix("reference:").partition("/")[0] for key in record.metrics
                     if key.startswith("reference:")]
            if names:
                return list(dict.fromkeys(names))
    return []


def reference_labels(rows: list[Row]) -> dict[str, str]:
    """What each reference row is, as the records say."""
    for row in rows:
        for record in row.records:
            if record.references:
                return dict(record.references)
    return {}


def variant_lines(rows: list[Row], specs: list[MetricSpec]) -> list[Line]:
    """The rows run with --set variants, unranked: they had another budget or setting, so they do not compete with
    the table's rows (the sensitivity section sets each against its plain row)."""
    return [Line(row.label, "variant", {spec.key: Value(estimate(row, spec.key), row.values(spec.key) is not None)
                                        for spec in specs}, method=row.method, config_hash=row.config_hash,
                 variant=", ".join(row.overrides), seeds=len(row.records), failed=len(row.failed),
                 settled=convergence_mark(row), stale=row.stale)
            for row in rows if row.overrides]


# the headline ------------------------------------------------------------------------------------------------------

@dataclass
class Headline:
    """What a table compares: the budget its cells got, their seeds, how many settled, what was left out."""

    budgets: list[str]  # one per distinct budget among the rows (one when the comparison is fair)
    kind: str  # steps | samples | flops | seconds: what every method got the same amount of
    seeds: list[int]
    methods: int
    cells: int
    judged: int  # cells with held-out curves to judge
    settled: int
    moving: list[str]  # methods with a cell that had not settled
    stale: int = 0  # records made by other code
    left_out: bool = False  # ... and left out of the tables


def headline(rows: list[Row], stale: int = 0, left_out: bool = False) -> Headline:
    plain = [row for row in rows if not row.overrides and row.records]
    records = [r for row in plain for r in row.records]
    done, known, moving = settled_counts(rows)
    kinds = {r.config["train"].get("budget", "steps") for r in records}
    return Headline(list(dict.fromkeys(describe_budget(r) for r in records)),
                    next(iter(kinds)) if len(kinds) == 1 else "mixed", sorted({r.seed for r in records}),
                    len(plain), len(records), known, done, moving, stale, left_out)


# findings and variants ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Checked:
    """One of the paper's claims decided on the table (tasks/findings.py), and its verdict at each rung of the
    budget (bench/report/rungs.py)."""

    finding: Finding
    stability: Stability


@dataclass(frozen=True)
class Change:
    """What a variant changes of one method's value in one column: the paired difference (variant − plain row)
    and the method's rank among the plain rows before → with the variant in its row's place."""

    delta: Interval | None
    before: int | None = None
    after: int | None = None


@dataclass
class Variant:
    overrides: tuple[str, ...]
    methods: list[str]
    changes: dict[str, dict[str, Change]]  # method -> column key -> change
    stale: dict[str, bool]  # method -> either row made by other code
    missing: list[str]  # plain methods that did not run it


def variants(rows: list[Row], specs: list[MetricSpec]) -> list[Variant]:
    """Each --set variant of the table's methods, as the change it makes against the method's plain row."""
    plain = [row for row in rows if not row.overrides and row.records]
    by_method = {row.method: i for i, row in enumerate(plain)}
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.overrides and row.records and row.method in by_method:
            groups.setdefault(tuple(row.overrides), []).append(row)
    before = {spec.key: column(plain, spec) for spec in specs}
    real = {spec.key: real_value(plain, spec) for spec in specs}
    out = []
    for overrides, group in sorted(groups.items()):
        changes: dict[str, dict[str, Change]] = {}
        for row in group:
            i = by_method[row.method]
            changes[row.method] = {}
            for spec in specs:
                a, b = before[spec.key][i].estimate, estimate(row, spec.key)
                delta = None if a is None or b is None else compare([a, b], lambda x, y: y - x)
                others = [value.estimate for j, value in enumerate(before[spec.key]) if j != i]
                after = rank_against(b, others, spec, real[spec.key])  # in its plain row's place
                changes[row.method][spec.key] = Change(delta, before[spec.key][i].rank, after)
        out.append(Variant(overrides, [row.method for row in group], changes,
                           {row.method: row.stale or plain[by_method[row.method]].stale for row in group},
                           sorted(set(by_method) - {row.method for row in group})))
    return out


@dataclass
class Provenance:
    """Where the numbers come from: per code commit, device and command, how many records; the cells' wall time."""

    commits: Counter[str]
    devices: Counter[str]
    commands: Counter[str]
    median_seconds: float
    total_minutes: float


def provenance(records: list[Record]) -> Provenance:
    wall = [r.wall_time.get("total", 0.0) for r in records]
    return Provenance(Counter(f"{r.git['commit'][:10]}{' (dirty)' if r.git.get('dirty') else ''}" for r in records),
                      Counter(f"{r.device.get('type')}: {r.device.get('name')}" for r in records),
                      Counter(r.command for r in records), float(np.median(wall)), sum(wall) / 60)


# the report --------------------------------------------------------------------------------------------------------

@dataclass
class EqualCompute:
    overrides: tuple[str, ...]
    headline: Headline
    table: Table
    missing: list[str]


@dataclass
class Appendix:
    """The sections after the answer: what the guide counts, the paper's ranking and media metrics beside ours
    (suites with a media layout), the findings per variant, what each column can separate, each direction, the
    other profiles, the settings, the records made by other code, the failed cells."""

    counts: appendix.Counts
    agreement: Agreement | None
    media: Media | None
    variant_findings: list[appendix.VariantFindings]
    scope: appendix.Scope | None
    methods: list[str]  # the plain rows' methods, the per-direction tables' columns
    directions: list[appendix.Directions]
    other_profiles: list[appendix.ProfilePair]
    settings: appendix.Settings
    stale: list[appendix.StaleCommit]
    failures: appendix.Failures


@dataclass
class Results:
    """Everything one report shows, computed once."""

    suite: str
    profile: str
    title: str
    command: str
    headline: Headline
    table: Table
    findings: list[Checked]  # the claims, decided at the budget, with their stability across rungs
    notes: list[Finding]  # what qualifies the findings (the suite's notes)
    rungs: list[Rung]  # the budget's rungs with numbers
    pairs: list[Pair]  # each column's adjacent pairs across the rungs
    tuning: str  # the settings the table's rows train at: tuned (how) or shared
    tuned: TuningModel | None  # each method's trials and tuning curves (bench/report/tuning.py)
    selection: str  # the rule that selected each method's trial
    learning: LearningModel  # the table's rows' validation curves (bench/report/learning.py)
    panels: tuple[list[Panel], list[Panel] | None]  # the learning and tuning figures' panels
    equal_compute: list[EqualCompute]
    extras: Table | None
    variants: list[Variant]
    variant_lines: list[Line]
    consumed: list[Consumption]  # per row (plain and variants): the budget and convergence table
    provenance: Provenance
    moves: RankingMoves | None  # the methods' order at each quarter of training
    budgets: Budgets | None  # every budget the suite has records for
    appendix: Appendix
    rows: list[Row]  # every row (plain and variants) of the report's records, for the figures
    references: dict[str, str] = field(default_factory=dict)  # reference row -> what it is
    left_out: bool = False  # records made by other code are out of the tables


def equal_compute(rows: list[Row], specs: list[MetricSpec]) -> list[EqualCompute]:
    """Every variant that gave at least two methods the same FLOPs, as a table of its own."""
    groups: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.records and "train.budget=flops" in row.overrides:
            groups.setdefault(tuple(row.overrides), []).append(row)
    plain = {row.method for row in rows if not row.overrides and row.records}
    out = []
    for overrides, group in groups.items():
        if len({row.method for row in group}) < 2:
            continue
        as_plain = [replace(row, overrides=[]) for row in group]
        out.append(EqualCompute(overrides, headline(as_plain), build_table(as_plain, specs, None),
                                sorted(plain - {row.method for row in group})))
    return out


def tuned_methods(tuned: Tuned | None, rows: list[Row]) -> tuple[set[str], list[str]]:
    """(the table's methods, those of them at tuned settings)."""
    methods = {row.method for row in rows if not row.overrides and row.records}
    return methods, sorted(m for m in methods if tuned is not None and tuned.settings(m) is not None)


def tuning_of(tuned: Tuned | None, rows: list[Row]) -> tuple[str, str]:
    """(a finding's tuning state: tuned, shared or partly tuned; which settings the table's rows train at, in a
    phrase)."""
    methods, done = tuned_methods(tuned, rows)
    if not done:
        return "shared", "shared settings (no method tuned: `bench tune` tunes them)"
    space = "; ".join(f"{key} over [{d.get('low'):g}, {d.get('high'):g}]" if "low" in d else f"{key}"
                      for key, d in (tuned.data.get("space") or {}).items())
    trials = tuned.data.get("trials")
    shared = sorted(methods - set(done))
    return ("tuned" if len(done) == len(methods) else "partly tuned",
            f"tuned ({trials} trials per method over {space}, selected on validation tuples)"
            + (f"; at shared settings: {', '.join(shared)}" if shared else ""))


def build(suite: str, records: list[Record], all_records: list[Record], profile: str, include_stale: bool,
          tuned: Tuned | None = None) -> Results:
    """The report's model from the profile's records (their `changed` set by mark_stale), read through the suite's
    tuned settings where it has them (bench/report/rows.py: tuned_view)."""
    suite_cls = SUITES.get(suite)
    records = tuned_view(records, tuned)
    # every profile's records, this one's as the tables read them (a tuning trial is no budget of its own)
    every = [r for r in all_records if r.profile != profile] + records
    current = [r for r in records if not (r.changed and r.status == "ok")]
    # records made by other code stay out of the tables unless asked for, or unless nothing else is there
    left_out = not include_stale and any(r.status == "ok" for r in current)
    rows = collect_rows(current if left_out else records)
    plain = [row for row in rows if not row.overrides] or rows
    finished = [row for row in plain if row.records]
    paper, layout = suite_cls.paper_reference(), suite_cls.media_layout()
    beside = None if layout else paper  # media metrics: the paper's numbers are another metric
    stale_methods = frozenset(r.method for r in records if r.changed) if left_out else frozenset()
    stale = sum(bool(r.changed) and r.status == "ok" for r in records)
    ok = [r for row in rows for r in row.records]
    extras = [spec for spec in suite_cls.extra_metrics if any(spec.key in r.metrics for r in ok)]
    title = f"{suite}: {suite_cls.paper_table or 'results'} — profile `{profile}`"
    command = f"python -m bench report --suite {suite}" + ("" if profile == "cpu" else f" --profile {profile}")
    # this module's own values first, then each other model module's, in the order the page shows them
    table = build_table(plain, suite_cls.table, beside, stale_methods)
    head, (word, state) = headline(rows, stale, left_out), tuning_of(tuned, rows)
    compute, more = equal_compute(rows, suite_cls.table), build_table(plain, extras, None) if extras else None
    changes, others = variants(rows, suite_cls.table), variant_lines(rows, suite_cls.table)
    made = provenance(ok or records)
    rungs = ladder(rows, finished)
    checked, notes = finding_stability(suite_cls, rungs)
    pairs = adjacent_pairs(rungs, suite_cls.table, {spec.key: real_value(plain, spec) for spec in suite_cls.table})
    specs = suite_cls.headline_metrics()
    tuning = tuning_model(tuned, specs) if tuned is not None else None
    rule = (tuned.data.get("selection") or {}).get("rule", "") if tuned is not None else ""
    tuning_figure = None if tuning is None else tuning_panels(tuning)
    learning = learning_model(finished, specs)
    panels = learning_panels(learning), tuning_figure
    consumed = [consumption(row) for row in rows if row.records]
    moves, budgeted = ranking_moves(rows, suite_cls.table), budgets(every, suite_cls.table)
    return Results(
        suite, profile, title, command, head, table,
        [Checked(replace(f, tuning=word), stability) for f, stability in checked], notes, rungs, pairs, state,
        tuning, rule, learning, panels, compute, more, changes, others, consumed, made, moves, budgeted,
        Appendix(appendix.counts(rows, records, table), agreement(plain, layout, paper) if layout else None,
                 media(rows, layout, paper) if layout else None, appendix.variant_findings(rows, suite_cls),
                 appendix.scope(table), *appendix.per_direction(rows, suite_cls.table),
                 appendix.other_profiles(every, profile, suite_cls.table),
                 appendix.settings(ok or records, suite_cls), appendix.stale_commits(records),
                 appendix.failures(rows, records)),
        rows, reference_labels(rows), left_out)

