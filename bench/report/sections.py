"""The appendix of a report page, in Markdown: what each column can separate, the findings again per variant,
each direction's values, the other profiles' rows, the settings and provenance of the records, and the records
made by other code. Read from the results model's rows (bench/report/model.py)."""
from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import replace
from typing import Any

import numpy as np

from base.results import Row
from bench.core.fingerprint import ROOT
from bench.core.records import Record
from bench.report.budget import convergence_mark, convergence_note
from bench.report.markdown import DASH, finding_text, mean_se, settings_text
from bench.report.model import Results, Table
from bench.report.ranking import STALE, fmt, plural, summarize
from bench.report.rows import collect_rows, common_overrides
from bench.report.tables import markdown_table
from tasks.base import MetricSpec


def scope_section(table: Table) -> list[str]:
    """What this profile's table can and cannot show: for each column, whether it separates the methods (some
    method ranks below 1: another beats it) or every method shares rank 1, and how far the best is from the oracle
    reference row. A finding that rests on a column that separates nothing is not decided by this budget, whatever
    the paper's numbers say."""
    plain = table.methods
    if len(plain) < 2:
        return []
    oracle = next((line for line in table.lines if line.label == "reference: oracle"), None)
    lines, blind = [], []
    for spec in table.specs:
        scored = [line for line in plain if line.values[spec.key].rank is not None]
        if len(scored) < 2:
            continue
        best = [line for line in scored if line.values[spec.key].best]
        top = best[0].values[spec.key].estimate
        real = None if oracle is None else oracle.values[spec.key].estimate
        against = "" if real is None else f" against the oracle reference's {fmt(real.mean)}"
        shown = mean_se(top.mean, top.se)
        head = f"- **{spec.label}**: "
        if len(best) == len(scored):
            blind.append(spec.label)
            lines.append(head + f"does not separate the methods: all {len(scored)} share rank 1 "
                         f"({best[0].label}, {shown}{against}).")
        else:
            lines.append(head + f"separates them: {len(best)} of {len(scored)} at rank 1 "
                         f"({', '.join(line.label for line in best)}; {shown}{against}).")
    if not lines:
        return []
    summary = ("Every column separates at least two methods." if not blind else
               f"**This profile cannot separate the methods on {', '.join(blind)}**: every method shares rank 1 "
               "there, so the table and the findings say nothing about the methods on those columns at this "
               "budget; a longer budget or the paper profile (`scripts/`) is needed for them.")
    stale = sum(line.stale for line in plain)
    made = f" ({stale} of them made by other code than this checkout's, {STALE})" if stale else ""
    return ["## What this profile can and cannot show", "",
            f"Per column of the table, from its {len(plain)} plain rows{made}: whether any method is beaten by "
            "another (the 95% interval of their paired difference excludes 0), and the best value beside the oracle "
            "reference row's.", "", summary, "", *lines, ""]


def stale_section(records: list[Record], left_out: bool) -> list[str]:
    """The appendix of records made by other code, one line per commit: its methods and the result-determining
    files that differ from this checkout's (files since removed are counted, not named)."""
    stale = [r for r in records if r.changed and r.status == "ok"]
    if not stale:
        return []
    by_commit: dict[str, list[Record]] = defaultdict(list)
    for r in stale:
        by_commit[r.git.get("commit", "unknown")[:10]].append(r)
    where = ("left out of the tables above (`bench report --include-stale` puts them back, marked "
             f"{STALE})" if left_out else f"in the tables above, marked {STALE}")
    lines = ["## Records made by other code", "",
             f"{len(stale)} records of this profile were made by code whose result-determining files differ from "
             f"this checkout's, so they are {where}: their numbers are what that code gave. Rerunning the same "
             "`bench run` command trains them again.", ""]
    for commit, group in sorted(by_commit.items()):
        changed = sorted({f for r in group for f in r.changed})
        notes = [f for f in changed if f.startswith("(")]
        present = [f for f in changed if not f.startswith("(") and (ROOT / f).exists()]
        gone = len(changed) - len(notes) - len(present)
        methods = ", ".join(sorted({r.method for r in group}))
        what = "; ".join(notes + ([f"differs in {', '.join(present)}"] if present else [])
                         + ([f"{gone} files since removed"] if gone else []))
        lines.append(f"- commit {commit}: {plural(len(group), 'record')} ({methods}); {what}")
    return lines + [""]


def variant_findings(rows: list[Row], suite_cls) -> list[str]:
    """The findings again for each --set variant that at least two methods were run with (a budget or a setting
    changed for the methods alike), so a reader sees whether a conclusion depends on it; the methods of the table
    that lack the variant are named, and the findings that need them say so."""
    plain = {row.method for row in rows if not row.overrides}
    variants: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.overrides and row.records:
            variants.setdefault(tuple(row.overrides), []).append(row)
    lines: list[str] = []
    for overrides, group in variants.items():
        if len({row.method for row in group}) < 2:
            continue  # a one-method variant is a row of the main table; there is nothing to compare it with
        missing = sorted(plain - {row.method for row in group})
        as_plain = [replace(row, overrides=[]) for row in group]
        findings = suite_cls.findings(as_plain)
        low, high = min(len(row.records) for row in group), max(len(row.records) for row in group)
        seeds = f"{low}-{high} seeds" if low < high else f"{low} seed{'s' if low > 1 else ''}"
        settings = settings_text(overrides)
        stale = f"; {STALE} made by other code" if any(row.stale for row in group) else ""
        note = convergence_note(as_plain)
        scope = "every method" if not missing else f"{len(group)} methods"
        lines += [f"### The same findings with {scope} at {settings} ({seeds} per method{stale})", ""]
        if missing:
            lines += [f"Not run with this variant: {', '.join(missing)}.", ""]
        lines += [side_by_side([row for row in rows if not row.overrides], group, suite_cls.table), ""]
        lines += ([note, ""] if note else []) + [f"- {finding_text(f) if f.is_claim else f.claim}" for f in findings]
        lines += [""]
    return lines


def side_by_side(plain: list[Row], variant: list[Row], table: list[MetricSpec]) -> str:
    """Means of each method at the table's own settings and at a variant: steps trained, convergence, metrics."""
    by_method = {row.method: row for row in variant}
    header = ["Method", "steps", "Conv."] + [f"{spec.label} {spec.arrow}" for spec in table]
    body = []
    for row in plain:
        other = by_method.get(row.method)
        if other is None:
            continue
        cells = [row.method]
        for part in (steps_text, convergence_mark):
            cells.append(f"{part(row)} → {part(other)}")
        for spec in table:
            a, b = summarize(row.values(spec.key)), summarize(other.values(spec.key))
            cells.append(DASH if a is None or b is None else f"{fmt(a[0])} → {fmt(b[0])}")
        body.append(cells)
    return "Table settings → this variant (means over seeds):\n\n" + markdown_table(header, body)


def steps_text(row: Row) -> str:
    steps = sorted({r.train.get("steps") for r in row.records} - {None})
    return "/".join(str(s) for s in steps) or "?"


def per_direction_section(rows: list[Row], table: list[MetricSpec]) -> str:
    """Each column's directions, mean over seeds ± SE. The records keep each direction's tuple-bootstrap SE, not its
    replicates, so a direction's SE combines them approximately: the seeds' spread over √seeds and the mean tuple SE
    (the test tuples are the same for every seed, so their noise does not average out)."""
    parts = ["## Per direction (mean ± SE)", "",
             "SE here: √(SD² over seeds / seeds + mean over seeds of the direction's tuple-bootstrap SE²), an "
             "approximation of the two-level bootstrap of the tables above (records keep each direction's SE, not "
             "its resamples).", ""]
    for spec in table:
        directions: dict[str, dict[str, str]] = defaultdict(dict)
        for row in rows:
            if row.overrides:
                continue
            values: dict[str, list[float]] = defaultdict(list)
            errors: dict[str, list[float]] = defaultdict(list)
            for r in row.records:
                found = r.metrics.get(spec.key) or {}
                for d, v in found.get("per_direction", {}).items():
                    values[d].append(v)
                    if (se := (found.get("per_direction_se") or {}).get(d)) is not None:
                        errors[d].append(se)
            for d, vs in values.items():
                spread = np.var(vs, ddof=1) / len(vs) if len(vs) > 1 else 0.0
                tuples = float(np.mean(np.square(errors[d]))) if len(errors[d]) == len(vs) else None
                se = math.sqrt(spread + tuples) if tuples is not None else (math.sqrt(spread) if spread else None)
                directions[d][row.method] = fmt(float(np.mean(vs))) + (f" ± {fmt(se)}" if se else "")
        if not directions:
            continue
        methods = [row.method for row in rows if not row.overrides]
        body = [[d] + [directions[d].get(m, DASH) for m in methods] for d in directions]
        parts += [f"### {spec.label} {spec.arrow} (`{spec.key}`)", "",
                  markdown_table(["direction", *methods], body), ""]
    return "\n".join(parts)


def settings_section(records: list[Record], suite_cls) -> str:
    """Settings shared by every included record, the ones that differ, the choices the paper leaves open."""
    flat = [flatten(r.config) for r in records]
    keys = sorted(set().union(*flat))
    shared = {k: flat[0].get(k) for k in keys if all(f.get(k) == flat[0].get(k) for f in flat)}
    varying = sorted(k for k in keys if k not in shared and k not in ("method", "seed"))
    skip = ("suite", "profile", "overrides")
    lines = ["## Settings", ""]
    if common_overrides(records):
        lines += ["Every cell was run with " + " ".join(f"`--set {o}`" for o in common_overrides(records)), ""]
    lines += ["Shared by every cell in this table:", ""]
    lines += [f"- `{k}` = `{v}`" for k, v in shared.items() if not k.startswith(skip)]
    if varying:
        lines += ["", "Differing between rows: " + ", ".join(f"`{k}`" for k in varying)]
    lines += ["", "## Deviations from the paper and choices it leaves open", ""]
    lines += [f"- {note}" for note in suite_cls.notes()]
    lines += ["", "Each method's own options in these records (`--set <method>.<option>=...`; the spec's "
              "provenance tags in `methods/*.py`), beside the shared `flow.weight_clip` and "
              "`flow.encoder_grad_scale` above:", ""]
    lines += [f"- `{method}`: " + ", ".join(f"`{k}={v}`" for k, v in options.items())
              for method, options in method_options(records).items() if options]
    return "\n".join(lines + [""])


def method_options(records: list[Record]) -> dict[str, dict[str, Any]]:
    """Options per method (the first record's; variants with other options say so in their row label)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out.setdefault(r.method, r.config.get("options") or {})
    return out


def other_profiles_section(all_records: list[Record], profile: str, table: list[MetricSpec]) -> str:
    """The plain rows of every other profile's records beside this one's: the same code at another budget
    (a finding that holds at one budget and not another says how much it depends on training length)."""
    others = sorted({r.profile for r in all_records} - {profile})
    if not others:
        return ""
    by_profile = {p: {row.method: row for row in collect_rows([r for r in all_records if r.profile == p])
                      if not row.overrides} for p in [profile, *others]}
    lines = ["## The same methods at other profiles", "",
             "Means over seeds of the plain rows (no extra `--set`), from the records of each profile (their SE "
             "are in each profile's own report); the profiles differ in budget and network size "
             "(`bench/profiles/`), so compare orderings, not values. "
             f"{STALE} marks a method whose records at either profile were made by other code.", ""]
    for other in others:
        methods = [m for m in by_profile[profile] if m in by_profile[other]]
        if not methods:
            continue
        header = ["Method"] + [f"{spec.label} {spec.arrow} ({p})" for spec in table for p in (profile, other)]
        body = []
        for m in methods:
            cells = [m + (f" {STALE}" if by_profile[profile][m].stale or by_profile[other][m].stale else "")]
            for spec in table:
                for p in (profile, other):
                    summary = summarize(by_profile[p][m].values(spec.key))
                    cells.append(DASH if summary is None else fmt(summary[0]))
            body.append(cells)
        seeds = sorted({len(by_profile[p][m].records) for p in (profile, other) for m in methods})
        count = f"{seeds[0]}" if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
        lines += [f"### `{profile}` vs `{other}` ({count} seeds per mean)", "", markdown_table(header, body), ""]
    return "\n".join(lines)


def flatten(config: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in config.items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v if not isinstance(v, list) else tuple(v)
    return out


def failures_section(results: Results) -> list[str]:
    """Cells that failed (with their reason) and cells the user stopped, neither of them in the tables."""
    lines = []
    failures = [(row.label, r) for row in results.rows for r in row.failed]
    if failures:
        lines += ["## Failed cells", ""] + [f"- {label} seed {r.seed}: {r.reason}" for label, r in failures] + [""]
    stopped = [r for r in results.records if r.status == "interrupted"]
    if stopped:
        lines += ["## Interrupted cells (not in the tables)", ""]
        lines += [f"- {r.method} seed {r.seed}: {r.reason} (at step {r.reached_step})" for r in stopped] + [""]
    return lines
