"""`bench report`: the paper's tables (md, LaTeX booktabs, CSV) and figures, computed from result records
only. Rows are methods (and configured variants), columns the suite's table layout; cells are mean ± SE (the
two-level bootstrap of tasks/verdicts.py over seeds and test tuples), the best value per column in bold with the
rows tied with it (the interval of the paired difference contains 0), "—" where a method cannot do a task, the
suite's reference rows (oracle generator, real vs real, baselines), and the paper's published numbers beside
ours."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from base.results import Row
from bench.core.fingerprint import ROOT, changed_files, code_fingerprint, has_media, same_code
from bench.core.records import Record, read_records
from bench.report.budget import (
    budget_line,
    budget_section,
    convergence_by_profile,
    convergence_mark,
    convergence_note,
    floors,
    ranking_section,
    settled_line,
)
from bench.report.ranking import REAL, STALE, best_rows, fmt, plural, rank_key, real_value, summarize
from bench.report.sensitivity import sensitivity_section
from bench.report.tables import markdown_table
from methods import METHODS
from metrics.bootstrap import Z95
from tasks import SUITES
from tasks.base import MetricSpec
from tasks.verdicts import Estimate, estimate, reference_estimate

DASH = "—"
FLOOR_LABEL = "oracle (older records: real data in the generator's place)"




def common_overrides(records: list[Record]) -> list[str]:
    """--set items every record shares: they describe the whole table, not a row."""
    sets = [r.overrides for r in records]
    return [o for o in sets[0] if all(o in s for s in sets[1:])] if sets else []


def collect_rows(records: list[Record]) -> list[Row]:
    """One row per (method, config); rows are labelled by the overrides that set them apart."""
    shared = set(common_overrides(records))
    rows: dict[tuple[str, str], Row] = {}
    for r in records:
        key = (r.method, r.config_hash)
        own = [o for o in r.overrides if o not in shared]
        if r.status == "interrupted":
            continue  # stopped by the user; listed apart, neither a result nor a failure
        row = rows.setdefault(key, Row(r.method, r.config_hash, own))
        (row.records if r.status == "ok" else row.failed).append(r)
    order = {name: i for i, name in enumerate(METHODS.names())}
    return sorted(rows.values(), key=lambda row: (order.get(row.method, len(order)), bool(row.overrides),
                                                   row.label))


def mark_stale(records: list[Record], suite: str) -> None:
    """Set record.changed to the result-determining files that differ between the code that made the record
    and this checkout (empty when they are the same; see bench/core/fingerprint.py)."""
    current: dict[tuple[str, bool], dict[str, Any] | None] = {}
    suite_module = SUITES.get(suite).__module__
    for r in records:
        method, media = r.method, has_media(r.config)
        if (method, media) not in current:
            current[method, media] = (code_fingerprint(METHODS.get(method).__module__, suite_module, media)
                                      if method in METHODS else None)
        code = current[method, media]
        if code is None:
            r.changed = ["(its method is not in this code)"]
        elif not r.code.get("files"):
            r.changed = ["(made before records kept a code fingerprint)"]
        elif same_code(r.code, r.git, code, METHODS.get(method).__module__, suite_module, media):
            r.changed = []
        else:
            r.changed = changed_files(r.code["files"], code["files"]) or ["(its statements)"]


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


def scope_section(rows: list[Row], table: list[MetricSpec]) -> list[str]:
    """What this profile's table can and cannot show: for each column, whether it separates the methods (some
    method's paired difference with the best excludes 0) or every method is tied with the best, and how far the
    best is from the oracle reference row. A finding that rests on a column that separates nothing is not decided
    by this budget, whatever the paper's numbers say."""
    plain = [i for i, row in enumerate(rows) if not row.overrides and row.records]
    if len(plain) < 2:
        return []
    lines, blind = [], []
    for spec in table:
        scored = [i for i in plain if estimate(rows[i], spec.key) is not None]
        if len(scored) < 2:
            continue
        best = best_rows([rows[i] for i in scored], spec)
        top = min(best, key=lambda j: rank_key(spec, estimate(rows[scored[j]], spec.key).mean,
                                               real_value(rows, spec)))
        value = estimate(rows[scored[top]], spec.key)
        oracle = reference_estimate(rows, REAL, spec.key)
        against = "" if oracle is None else f" against the oracle reference's {fmt(oracle.mean)}"
        head = f"- **{spec.label}**: "
        if len(best) == len(scored):
            blind.append(spec.label)
            lines.append(head + f"does not separate the methods: all {len(scored)} are tied with the best "
                         f"({rows[scored[top]].label}, {fmt(value.mean)}{against}).")
        else:
            lines.append(head + f"separates them: {len(best)} of {len(scored)} tied at the best "
                         f"({', '.join(rows[scored[j]].label for j in sorted(best))}; {fmt(value.mean)}{against}).")
    if not lines:
        return []
    summary = ("Every column separates at least two methods." if not blind else
               f"**This profile cannot separate the methods on {', '.join(blind)}**: every method is tied with the "
               "best there, so the table and the findings say nothing about the methods on those columns at this "
               "budget; a longer budget or the paper profile (`scripts/`) is needed for them.")
    stale = sum(rows[i].stale for i in plain)
    made = f" ({stale} of them made by other code than this checkout's, {STALE})" if stale else ""
    return ["## What this profile can and cannot show", "",
            f"Per column of the table, from its {len(plain)} plain rows{made}: whether any method's paired "
            "difference with the best has an interval that excludes 0, and the best value beside the oracle "
            "reference row's.", "", summary, "", *lines, ""]


def arrow(spec: MetricSpec) -> str:
    return spec.arrow


def estimate_text(found: Estimate | None, latex: bool) -> str:
    if found is None:
        return "n/a"
    se = found.se
    pm = r"$\pm$" if latex else "±"
    return fmt(found.mean) + (f" {pm} {fmt(se)}" if se else "")


def cell_text(row: Row, spec: MetricSpec, bold: bool, latex: bool) -> str:
    if row.values(spec.key) is None:
        return "--" if latex else DASH
    text = estimate_text(estimate(row, spec.key), latex)
    if bold:
        return rf"\textbf{{{text}}}" if latex else f"**{text}**"
    return text


def paper_text(paper: dict[str, dict[str, float | None]], row: Row, spec: MetricSpec, latex: bool) -> str:
    if row.overrides or row.method not in paper:
        return ""
    value = paper[row.method].get(spec.key)
    return fmt(value) if value is not None else ("--" if latex else DASH)


def paper_value(value: float | None, latex: bool) -> str:
    return fmt(value) if value is not None else ("--" if latex else DASH)


def seeds_text(row: Row) -> str:
    text = str(len(row.records))
    return text + (f" (+{len(row.failed)} failed)" if row.failed else "")


def wide_table(rows: list[Row], table: list[MetricSpec], paper: dict) -> pd.DataFrame:
    """One row per method and configuration, then the reference rows: per metric the mean over seeds, the spread
    over seeds (SD), the standard error and 95% interval of the mean (seeds and test tuples), the paper's value."""
    out = []
    names = reference_names(rows)
    entries = [(row.method, ", ".join(row.overrides), row.config_hash, len(row.records), len(row.failed),
                convergence_mark(row), lambda key, row=row: (row.values(key) is None, estimate(row, key)),
                None if row.overrides else paper.get(row.method, {})) for row in rows]
    entries += [(f"reference: {name}", "", "", "", "", "",
                 lambda key, name=name: (False, reference_estimate(rows, name, key)), None) for name in names]
    for method, variant, config_hash, seeds, failed, converged, read, published in entries:
        entry: dict[str, Any] = {"method": method, "variant": variant, "config_hash": config_hash, "seeds": seeds,
                                 "failed": failed, "converged": converged}
        for spec in table:
            unsupported, found = read(spec.key)
            se = found.se if found is not None else None
            entry[f"{spec.key} mean"] = found.mean if found else None
            entry[f"{spec.key} sd"] = found.sd if found else None
            entry[f"{spec.key} se"] = se
            entry[f"{spec.key} ci95 low"] = found.mean - Z95 * se if found and se is not None else None
            entry[f"{spec.key} ci95 high"] = found.mean + Z95 * se if found and se is not None else None
            entry[f"{spec.key} supported"] = not unsupported
            entry[f"{spec.key} paper"] = (published or {}).get(spec.key)
        out.append(entry)
    return pd.DataFrame(out)


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
        settings = " ".join(f"`--set {o}`" for o in overrides)
        stale = f"; {STALE} made by other code" if any(row.stale for row in group) else ""
        note = convergence_note(as_plain)
        scope = "every method" if not missing else f"{len(group)} methods"
        lines += [f"### The same findings with {scope} at {settings} ({seeds} per method{stale})", ""]
        if missing:
            lines += [f"Not run with this variant: {', '.join(missing)}.", ""]
        lines += [side_by_side([row for row in rows if not row.overrides], group, suite_cls.table), ""]
        lines += ([note, ""] if note else []) + [f"- {f}" for f in findings] + [""]
    return lines


def equal_compute_tables(rows: list[Row], table: list[MetricSpec]) -> list[str]:
    """Beside the equal-steps table, every variant of this profile that gave each method the same FLOPs (at
    least two methods), as a table of its own: mean ± SE, bold best and ties among its rows."""
    groups: dict[tuple[str, ...], list[Row]] = defaultdict(list)
    for row in rows:
        if row.records and "train.budget=flops" in row.overrides:
            groups[tuple(row.overrides)].append(row)
    plain = {row.method for row in rows if not row.overrides and row.records}
    lines: list[str] = []
    for overrides, group in groups.items():
        if len({row.method for row in group}) < 2:
            continue
        as_plain = [replace(row, overrides=[]) for row in group]
        missing = sorted(plain - {row.method for row in group})
        settings = " ".join(f"`--set {o}`" for o in overrides)
        lines += [f"## At equal compute: {settings}", "", budget_line(as_plain), "", settled_line(as_plain), ""]
        if missing:
            lines += [f"Not run at this budget: {', '.join(missing)}.", ""]
        lines += [markdown_table(*main_table(as_plain, table, {}, latex=False)), ""]
    return lines


def side_by_side(plain: list[Row], variant: list[Row], table: list[MetricSpec]) -> str:
    """Means of each method at the table's own settings and at a variant: steps trained, convergence, metrics."""
    by_method = {row.method: row for row in variant}
    header = ["Method", "steps", "Conv."] + [f"{spec.label} {arrow(spec)}" for spec in table]
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


def main_table(rows: list[Row], table: list[MetricSpec], paper: dict | None, latex: bool,
               left_out: frozenset[str] = frozenset()) -> tuple[list[str], list[list[str]]]:
    """One row per method and configuration, then the reference rows. `paper` None: no 'paper' columns (the
    paper's metric is another one; bench/report/agreement.py compares the rankings instead)."""
    best = {spec.key: best_rows(rows, spec) for spec in table}
    beside = paper is not None
    paper = paper or {}
    width = 2 if beside else 1
    header = ["Method", "Seeds", "Conv."]
    for spec in table:
        header += [f"{spec.label} {arrow(spec)}", "paper"][:width]
    body = []
    for i, row in enumerate(rows):
        cells = [row.label + (f" {STALE}" if row.stale else ""), seeds_text(row), convergence_mark(row)]
        for spec in table:
            cells += [cell_text(row, spec, i in best[spec.key], latex), paper_text(paper, row, spec, latex)][:width]
        body.append(cells)
    shown = {row.method for row in rows}
    for name, published in paper.items():  # methods the paper compares with that this harness does not run
        if name not in shown and any(published.get(spec.key) is not None for spec in table):
            why = "our records by other code left out" if name in left_out else "not run here"
            body.append([f"{name} (paper only; {why})", "", ""] + [
                cell for spec in table for cell in (DASH, paper_value(published.get(spec.key), latex))])
    for name in reference_names(rows):
        found = {spec.key: reference_estimate(rows, name, spec.key) for spec in table}
        body.append([f"reference: {name}", "", ""] + [
            cell for spec in table
            for cell in (estimate_text(found[spec.key], latex) if found[spec.key] else DASH, "")[:width]])
    floor = {} if reference_names(rows) else floors(rows, table)
    if floor:
        body.append([FLOOR_LABEL, "", ""] + [cell for spec in table for cell in
                                            (fmt(floor[spec.key]) if spec.key in floor else "", "")[:width]])
    return header, body


def reading_guide(rows: list[Row], table: list[MetricSpec], records: list[Record],
                  ok_records: list[Record], command: str, results: Path) -> str:
    """The paragraph under a report's budget line: where the numbers come from and how to read a cell, a bold
    value, and each reference row."""
    seeds = sorted({len(row.records) for row in rows if not row.overrides and row.records})
    one_seed = seeds == [1]
    text = (f"Generated by `{command}` from {len(records)} records under `{results}/` ({len(ok_records)} ok). "
            "Cells are mean ± SE: the mean over seeds and its standard error from a two-level bootstrap over seeds "
            "and test tuples (the same tuple resamples for every method and reference row, so differences are "
            "paired)" + ("; with one seed per row, the SE covers the evaluation's sampling noise only, not the "
                         "spread over training runs" if one_seed else "") + ". ↓ lower is better, ↑ higher is better, "
            "≈ closest to the real data's value (the oracle row) is better. Bold: the best row per column among "
            "rows without --set overrides, and every row tied with it (the 95% interval of its paired difference "
            f"with the best contains 0). {DASH} = the method cannot do this task; 'Conv.' = every cell had settled "
            "on its held-out curves (see 'Budget and convergence'); 'paper' = the published value")
    if any(row.stale for row in rows):
        text += f"; {STALE} = made by other code (see 'Records made by other code')"
    labels = reference_labels(rows)
    lines = [text + "."]
    bare = sorted({row.label for row in rows for r in row.records
                   if any(m.get("value") is not None and "replicates" not in m for k, m in r.metrics.items()
                          if not k.startswith(("reference:", "verifier/")))})
    if bare:
        lines += ["", f"{len(bare)} rows come from records older than the tuple bootstrap (no resamples kept): their "
                  "± is the spread over seeds only, and a one-seed row has none, so ties with them are not decided."]
    if labels:
        lines += ["", "Reference rows, scored by the same engine on the same test tuples:", ""]
        lines += [f"- `reference: {name}` — {label}." for name, label in labels.items()]
    elif floors(rows, table):
        lines += ["", f"'{FLOOR_LABEL}': the records predate reference rows; on conditional tasks their oracle "
                  "was the test tuples' own targets (an identity where the metric compares with that target)."]
    return "\n".join(lines)


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


LATEX = {"\\": r"\textbackslash{}", "_": r"\_", "#": r"\#", "%": r"\%", "&": r"\&", "→": r"$\to$",
         "↓": r"$\downarrow$", "↑": r"$\uparrow$", "≈": r"$\approx$", "±": r"$\pm$", "×": r"$\times$",
         "—": "--", "–": "--", "−": "$-$", "‡": r"$\ddagger$", "†": r"$\dagger$", "τ": r"$\tau$", "·": r"$\cdot$",
         "…": r"\ldots{}", "‖": r"$\Vert$", "§": r"\S{}"}


def latex_text(text: str) -> str:
    """A table cell as LaTeX: cells the table code already wrote as LaTeX (bold, ±) pass; the rest is escaped
    character by character, so the file is plain ASCII that pdflatex compiles with booktabs."""
    if text.startswith("\\") or "$" in text:
        return text
    return "".join(LATEX.get(ch, ch) for ch in text)


def latex_table(header: list[str], body: list[list[str]], caption: str, label: str) -> str:
    """A booktabs table (\\usepackage{booktabs}) with its caption and label."""
    frame = pd.DataFrame([[latex_text(c) for c in cells] for cells in body], columns=[latex_text(h) for h in header])
    return frame.to_latex(index=False, escape=False, column_format="l" + "r" * (len(header) - 1),
                          caption=latex_text(caption), label=label)


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
        parts += [f"### {spec.label} {arrow(spec)} (`{spec.key}`)", "",
                  markdown_table(["direction", *methods], body), ""]
    return "\n".join(parts)


def settings_section(records: list[Record], suite_cls) -> str:
    """Settings shared by every included record, the ones that differ, and the provenance of the numbers."""
    flat = [flatten(r.config) for r in records]
    keys = sorted(set().union(*flat))
    shared = {k: flat[0].get(k) for k in keys if all(f.get(k) == flat[0].get(k) for f in flat)}
    varying = sorted(k for k in keys if k not in shared and k not in ("method", "seed"))
    commits = Counter(f"{r.git['commit'][:10]}{' (dirty)' if r.git.get('dirty') else ''}" for r in records)
    commands = Counter(r.command for r in records)
    devices = Counter(f"{r.device.get('type')}: {r.device.get('name')}" for r in records)
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
    lines += ["", "## Provenance", ""]
    lines += [f"- code commit {c}: {n} records" for c, n in commits.items()]
    lines += [f"- device {d}: {n} records" for d, n in devices.items()]
    lines += [f"- command `{c}`: {n} records" for c, n in commands.items()]
    wall = [r.wall_time.get("total", 0.0) for r in records]
    lines += [f"- wall time per cell: median {np.median(wall):.0f} s, total {sum(wall) / 60:.1f} min"]
    return "\n".join(lines)


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
        header = ["Method"] + [f"{spec.label} {arrow(spec)} ({p})" for spec in table for p in (profile, other)]
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


def default_profile(records: list[Record]) -> str:
    """The profile a report shows unless told: the default `cpu` when it has records, else the one with most."""
    profiles = Counter(r.profile for r in records)
    return "cpu" if "cpu" in profiles else profiles.most_common(1)[0][0]


def write_report(suite: str, results: Path, out: Path, profile: str | None = None,
                 include_stale: bool = False) -> list[Path]:
    from bench.figures.plots import bar_chart, suite_figures

    suite_cls = SUITES.get(suite)
    records = all_records = read_records(results, suite)
    if not records:
        raise FileNotFoundError(f"no result records for suite '{suite}' under {results}/; "
                                f"run 'python -m bench run --suite {suite}' first")
    profiles = Counter(r.profile for r in records)
    profile = profile or default_profile(records)
    records = [r for r in records if r.profile == profile]
    if not records:
        raise FileNotFoundError(f"no records of profile '{profile}' for suite '{suite}' under {results}/; "
                                f"found profiles: {', '.join(profiles)}")
    mark_stale(all_records, suite)
    current = [r for r in records if not (r.changed and r.status == "ok")]
    # records made by other code stay out of the tables unless asked for, or unless nothing else is there
    left_out = not include_stale and any(r.status == "ok" for r in current)
    rows = collect_rows(current if left_out else records)
    paper = suite_cls.paper_reference()
    table = suite_cls.table
    # where the suite's paper cells are media metrics, the paper's numbers are another metric than the table's:
    # they are not set beside ours; the rankings are compared instead
    layout = suite_cls.media_layout()
    beside = None if layout else paper
    out = out if profile == "cpu" else out / profile  # the default profile's report sits at the top
    out.mkdir(parents=True, exist_ok=True)
    stem = out / suite
    table_rows = [row for row in rows if not row.overrides] or rows  # variants: the sensitivity section
    stale_methods = frozenset(r.method for r in records if r.changed) if left_out else frozenset()
    header, body = main_table(table_rows, table, beside, latex=False, left_out=stale_methods)
    ok_records = [r for row in rows for r in row.records]
    title = f"# {suite}: {suite_cls.paper_table or 'results'} — profile `{profile}`"
    command = f"python -m bench report --suite {suite}" + ("" if profile == "cpu" else f" --profile {profile}")
    intro = reading_guide(rows, table, records, ok_records, command, results)
    stale_count = sum(bool(r.changed) and r.status == "ok" for r in records)
    stale_line = ("" if not stale_count else
                  f"**Made by other code**: {plural(stale_count, 'record')}, left out of the tables (see the last "
                  "section)." if left_out else
                  f"**Made by other code**: {plural(stale_count, 'record')}, in the tables marked {STALE}"
                  + ("" if include_stale else " (no record of this profile was made by this checkout's code)") + ".")
    sections = [title, "", budget_line(rows), "", settled_line(rows), ""] + ([stale_line, ""] if stale_line else [])
    sections += [intro, "", markdown_table(header, body), ""]
    sections += equal_compute_tables(rows, table)
    extras = [spec for spec in suite_cls.extra_metrics if any(spec.key in r.metrics for r in ok_records)]
    if extras:
        sections += ["## Beside the paper's table", "",
                     "Further metrics every record of this suite keeps, laid out like the table above.", "",
                     markdown_table(*main_table(table_rows, extras, None, latex=False)), ""]
    findings = suite_cls.findings(rows)
    if findings:
        note = convergence_note(rows)
        sections += ["## The paper's findings, checked", ""] + ([note, ""] if note else [])
        sections += [f"- {f}" for f in findings] + [""]
        sections += variant_findings(rows, suite_cls)
    if layout:
        from bench.report.agreement import agreement_section

        sections += agreement_section(table_rows, layout, paper)
    sections += sensitivity_section(rows, table)
    if suite_cls.media_layout():
        from bench.report.media import media_section

        sections += media_section(rows, suite_cls.media_layout(), paper)
    sections += scope_section(rows, table)
    sections += budget_section(rows) + ranking_section(rows, table)
    sections += convergence_by_profile(all_records, table)
    sections += stale_section(records, left_out)
    failures = [(row.label, r) for row in rows for r in row.failed]
    if failures:
        sections += ["## Failed cells", ""] + [f"- {label} seed {r.seed}: {r.reason}"
                                                for label, r in failures] + [""]
    stopped = [r for r in records if r.status == "interrupted"]
    if stopped:
        sections += ["## Interrupted cells (not in the tables)", ""]
        sections += [f"- {r.method} seed {r.seed}: {r.reason} (at step {r.reached_step})"
                     for r in stopped] + [""]
    written = [bar_chart(rows, table, beside or {}, stem.with_suffix(".png"), title=f"{suite} ({profile})")]
    written += suite_figures(suite_cls, rows, out)
    figures = ", ".join(f"`{p.name}`" for p in written)
    sections += [per_direction_section(rows, table), other_profiles_section(all_records, profile, table),
                 settings_section(ok_records or records, suite_cls), "", f"Figures: {figures}."]
    md = stem.with_suffix(".md")
    md.write_text("\n".join(sections) + "\n")
    written.append(md)
    lheader, lbody = main_table(table_rows, table, beside, latex=True, left_out=stale_methods)
    tex = stem.with_suffix(".tex")
    tex.write_text(latex_table(lheader, lbody, f"{suite_cls.paper_table or suite}: ours"
                               + (" vs paper" if beside is not None else "") + f" ({profile})",
                               label=f"tab:{suite}-{profile}".replace("_", "-")))
    written.append(tex)
    csv = stem.with_suffix(".csv")
    wide_table(rows, table, paper).to_csv(csv, index=False)
    written.append(csv)
    return written
