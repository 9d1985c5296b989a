"""`bench report`: the paper's tables (md, LaTeX booktabs, CSV) and figures, computed from result records
only. Rows are methods (and configured variants), columns the suite's table layout; cells are mean ± std
over seeds with the seed count, the best value per column in bold, "—" where a method cannot do a task,
and the paper's published numbers beside ours."""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from base.results import Row
from bench.fingerprint import changed_files, code_fingerprint
from bench.records import read_records
from bench.report_budget import (
    budget_line,
    budget_section,
    convergence_by_profile,
    convergence_mark,
    convergence_note,
    floors,
    ranking_section,
)
from bench.tables import markdown_table
from methods import METHODS
from tasks import SUITES
from tasks.base import MetricSpec

DASH = "—"
FLOOR_LABEL = "real data (floor)"


STALE = "‡"


def common_overrides(records: list[dict[str, Any]]) -> list[str]:
    """--set items every record shares: they describe the whole table, not a row."""
    sets = [r.get("overrides") or [] for r in records]
    return [o for o in sets[0] if all(o in s for s in sets[1:])] if sets else []


def collect_rows(records: list[dict[str, Any]]) -> list[Row]:
    """One row per (method, config); rows are labelled by the overrides that set them apart."""
    shared = set(common_overrides(records))
    rows: dict[tuple[str, str], Row] = {}
    for r in records:
        key = (r["method"], r["config_hash"])
        own = [o for o in r.get("overrides") or [] if o not in shared]
        if r.get("status") == "interrupted":
            continue  # stopped by the user; listed apart, neither a result nor a failure
        row = rows.setdefault(key, Row(r["method"], r["config_hash"], own))
        (row.records if r.get("status") == "ok" else row.failed).append(r)
    order = {name: i for i, name in enumerate(METHODS.names())}
    return sorted(rows.values(), key=lambda row: (order.get(row.method, len(order)), bool(row.overrides),
                                                   row.label))


def mark_stale(records: list[dict[str, Any]], suite: str) -> None:
    """Set record["_changed"] to the result-determining files that differ between the code that made the record
    and this checkout (empty when they are the same; see bench/fingerprint.py)."""
    current: dict[str, dict[str, str] | None] = {}
    suite_module = SUITES.get(suite).__module__
    for r in records:
        method = r["method"]
        if method not in current:
            current[method] = (code_fingerprint(METHODS.get(method).__module__, suite_module)["files"]
                               if method in METHODS else None)
        if current[method] is None:
            r["_changed"] = ["(its method is not in this code)"]
        elif not (r.get("code") or {}).get("files"):
            r["_changed"] = ["(made before records kept a code fingerprint)"]
        else:
            r["_changed"] = changed_files(r["code"]["files"], current[method])


def stale_section(records: list[dict[str, Any]]) -> list[str]:
    stale = [r for r in records if r.get("_changed") and r.get("status") == "ok"]
    if not stale:
        return []
    groups = Counter((r["method"], r["git"].get("commit", "unknown")[:10], ", ".join(r["_changed"])) for r in stale)
    lines = ["## Records made by other code", "",
             f"{len(stale)} of the {sum(r.get('status') == 'ok' for r in records)} records in this report were made "
             f"by code whose result-determining files differ from this checkout's (rows marked {STALE}): their "
             "numbers are what that code gave, not necessarily what this code gives. Rerunning the same "
             "`bench run` command trains them again.", ""]
    lines += [f"- {method}: {n} record{'s' if n > 1 else ''} from commit {commit}"
              + (f" {changed}" if changed.startswith("(") else f"; differs in {changed}")
              for (method, commit, changed), n in sorted(groups.items())]
    return lines + [""]


def summarize(values: list[float] | None) -> tuple[float, float, int] | None:
    if values is None or not values:
        return None
    arr = np.asarray(values, dtype=float)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0, len(arr)


def fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:.4f}"
    return f"{x:.4f}" if abs(x) >= 1e-3 else f"{x:.2e}"


def best_rows(rows: list[Row], spec: MetricSpec) -> set[int]:
    """The rows with the best mean, among the rows at the table's shared settings when there are any (rows set
    apart by --set overrides had another budget or variant, so they do not compete), and the rows tied with it:
    those whose mean lies inside its bootstrap interval, where its record keeps one."""
    plain = {i for i, row in enumerate(rows) if not row.overrides} or set(range(len(rows)))
    means = {i: s[0] for i, row in enumerate(rows) if i in plain and (s := summarize(row.values(spec.key)))}
    if not means:
        return set()
    target = max(means.values()) if spec.higher_is_better else min(means.values())
    best = {i for i, m in means.items() if m == target}
    for low, high in filter(None, (bootstrap_interval(rows[i], spec.key) for i in list(best))):
        best |= {i for i, m in means.items() if low <= m <= high}  # inside the best's interval: a tie
    return best


def arrow(spec: MetricSpec) -> str:
    return "↑" if spec.higher_is_better else "↓"


def bootstrap_interval(row: Row, key: str) -> tuple[float, float] | None:
    """The 95% bootstrap interval over test rows that a one-seed row's record keeps for `key`, if any."""
    if len(row.records) != 1:
        return None
    metrics = row.records[0]["metrics"]
    low, high = metrics.get(f"ci95_low:{key}"), metrics.get(f"ci95_high:{key}")
    if not low or not high or low.get("value") is None or high.get("value") is None:
        return None
    return low["value"], high["value"]


def cell_text(row: Row, spec: MetricSpec, bold: bool, latex: bool) -> str:
    s = summarize(row.values(spec.key))
    if row.values(spec.key) is None:
        return "--" if latex else DASH
    if s is None:
        return "n/a"
    mean, std, n = s
    pm = r"$\pm$" if latex else "±"
    text = f"{fmt(mean)} {pm} {fmt(std)}" if n > 1 else fmt(mean)
    if (bounds := bootstrap_interval(row, spec.key)) is not None:
        text += f" [{fmt(bounds[0])}, {fmt(bounds[1])}]"
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
    out = []
    for row in rows:
        entry: dict[str, Any] = {"method": row.method, "variant": ", ".join(row.overrides),
                                 "config_hash": row.config_hash, "seeds": len(row.records),
                                 "failed": len(row.failed), "converged": convergence_mark(row)}
        for spec in table:
            s = summarize(row.values(spec.key))
            unsupported = row.values(spec.key) is None
            entry[f"{spec.key} mean"] = s[0] if s else None
            entry[f"{spec.key} std"] = s[1] if s else None
            entry[f"{spec.key} supported"] = not unsupported
            if any(bootstrap_interval(other, spec.key) for other in rows):
                bounds = bootstrap_interval(row, spec.key)
                entry[f"{spec.key} ci95 low"], entry[f"{spec.key} ci95 high"] = bounds or (None, None)
            ref = paper.get(row.method, {}).get(spec.key) if not row.overrides else None
            entry[f"{spec.key} paper"] = ref
        out.append(entry)
    return pd.DataFrame(out)


def variant_findings(rows: list[Row], suite_cls) -> list[str]:
    """The findings again for each --set variant that every plain method was also run with (a budget or a
    setting changed for all methods alike), so a reader sees whether a conclusion depends on it."""
    plain = {row.method for row in rows if not row.overrides}
    variants: dict[tuple[str, ...], list[Row]] = {}
    for row in rows:
        if row.overrides and row.records:
            variants.setdefault(tuple(row.overrides), []).append(row)
    lines: list[str] = []
    for overrides, group in variants.items():
        if not plain or {row.method for row in group} < plain:
            continue
        as_plain = [replace(row, overrides=[]) for row in group]
        findings = suite_cls.findings(as_plain)
        low, high = min(len(row.records) for row in group), max(len(row.records) for row in group)
        seeds = f"{low}-{high} seeds" if low < high else f"{low} seed{'s' if low > 1 else ''}"
        settings = " ".join(f"`--set {o}`" for o in overrides)
        stale = f"; {STALE} made by other code" if any(row.stale for row in group) else ""
        note = convergence_note(as_plain)
        lines += [f"### The same findings with every method at {settings} ({seeds} per method{stale})", "",
                  side_by_side([row for row in rows if not row.overrides], group, suite_cls.table), ""]
        lines += ([note, ""] if note else []) + [f"- {f}" for f in findings] + [""]
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
    steps = sorted({(r.get("train") or {}).get("steps") for r in row.records} - {None})
    return "/".join(str(s) for s in steps) or "?"


def main_table(rows: list[Row], table: list[MetricSpec], paper: dict, latex: bool) -> tuple[list[str], list[list[str]]]:
    """One row per method and configuration, then the floor: what real data scores at the same sample size."""
    best = {spec.key: best_rows(rows, spec) for spec in table}
    header = ["Method", "Seeds", "Conv."]
    for spec in table:
        header += [f"{spec.label} {arrow(spec)}", "paper"]
    body = []
    for i, row in enumerate(rows):
        cells = [row.label + (f" {STALE}" if row.stale else ""), seeds_text(row), convergence_mark(row)]
        for spec in table:
            cells += [cell_text(row, spec, i in best[spec.key], latex), paper_text(paper, row, spec, latex)]
        body.append(cells)
    shown = {row.method for row in rows}
    for name, published in paper.items():  # methods the paper compares with that this harness does not run
        if name not in shown and any(published.get(spec.key) is not None for spec in table):
            body.append([f"{name} (paper only; not run here)", "", ""] + [
                cell for spec in table for cell in (DASH, paper_value(published.get(spec.key), latex))])
    for name, values in reference_values(rows).items():
        body.append([f"reference: {name}", "", ""] + [
            cell for spec in table
            for cell in (fmt(values[spec.key]) if values.get(spec.key) is not None else DASH, "")])
    floor = floors(rows, table)
    if floor:
        body.append([FLOOR_LABEL, "", ""] + [cell for spec in table
                                            for cell in (fmt(floor[spec.key]) if spec.key in floor else "", "")])
    return header, body


def reference_values(rows: list[Row]) -> dict[str, dict[str, float | None]]:
    """Reference rows a suite scores beside the methods ("reference:<name>/<key>" in its records; they do not
    depend on the method or seed), read from the first record that has them."""
    for row in rows:
        for record in row.records:
            found: dict[str, dict[str, float | None]] = defaultdict(dict)
            for key, result in record["metrics"].items():
                if key.startswith("reference:"):
                    name, _, metric = key.removeprefix("reference:").partition("/")
                    found[name][metric] = result.get("value")
            if found:
                return dict(found)
    return {}


def latex_table(header: list[str], body: list[list[str]], caption: str) -> str:
    def esc(text: str) -> str:
        if text.startswith("\\") or "$" in text:
            return text
        return text.replace("_", r"\_").replace("→", r"$\to$").replace("↓", r"$\downarrow$").replace(
            "↑", r"$\uparrow$").replace("—", "--").replace("#", r"\#")

    frame = pd.DataFrame([[esc(c) for c in cells] for cells in body], columns=[esc(h) for h in header])
    return frame.to_latex(index=False, escape=False, column_format="l" + "r" * (len(header) - 1),
                          caption=caption, label="tab:" + caption.split()[0].lower().replace(".", ""))


def per_direction_section(rows: list[Row], table: list[MetricSpec]) -> str:
    parts = ["## Per direction (mean over seeds)", ""]
    for spec in table:
        directions: dict[str, dict[str, float]] = defaultdict(dict)
        for row in rows:
            if row.overrides:
                continue
            per_seed: dict[str, list[float]] = defaultdict(list)
            for r in row.records:
                for d, v in (r["metrics"].get(spec.key) or {}).get("per_direction", {}).items():
                    per_seed[d].append(v)
            for d, vs in per_seed.items():
                directions[d][row.method] = float(np.mean(vs))
        if not directions:
            continue
        methods = [row.method for row in rows if not row.overrides]
        body = [[d] + [fmt(directions[d][m]) if m in directions[d] else DASH for m in methods]
                for d in directions]
        parts += [f"### {spec.label} {arrow(spec)} (`{spec.key}`)", "",
                  markdown_table(["direction", *methods], body), ""]
    return "\n".join(parts)


def settings_section(records: list[dict[str, Any]], suite_cls) -> str:
    """Settings shared by every included record, the ones that differ, and the provenance of the numbers."""
    flat = [flatten(r["config"]) for r in records]
    keys = sorted(set().union(*flat))
    shared = {k: flat[0].get(k) for k in keys if all(f.get(k) == flat[0].get(k) for f in flat)}
    varying = sorted(k for k in keys if k not in shared and k not in ("method", "seed"))
    commits = Counter(f"{r['git']['commit'][:10]}{' (dirty)' if r['git'].get('dirty') else ''}" for r in records)
    commands = Counter(r.get("command", "") for r in records)
    devices = Counter(f"{r['device'].get('type')}: {r['device'].get('name')}" for r in records)
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
    wall = [r["wall_time"].get("total", 0.0) for r in records]
    lines += [f"- wall time per cell: median {np.median(wall):.0f} s, total {sum(wall) / 60:.1f} min"]
    return "\n".join(lines)


def method_options(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Options per method (the first record's; variants with other options say so in their row label)."""
    out: dict[str, dict[str, Any]] = {}
    for r in records:
        out.setdefault(r["method"], r["config"].get("options") or {})
    return out


def other_profiles_section(all_records: list[dict[str, Any]], profile: str, table: list[MetricSpec]) -> str:
    """The plain rows of every other profile's records beside this one's: the same code at another budget
    (a finding that holds at one budget and not another says how much it depends on training length)."""
    others = sorted({r["profile"] for r in all_records} - {profile})
    if not others:
        return ""
    by_profile = {p: {row.method: row for row in collect_rows([r for r in all_records if r["profile"] == p])
                      if not row.overrides} for p in [profile, *others]}
    lines = ["## The same methods at other profiles", "",
             "Means over seeds of the plain rows (no extra `--set`), from the records of each profile; the "
             "profiles differ in budget and network size (`bench/profiles/`), so compare orderings, not values. "
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


def write_report(suite: str, results: Path, out: Path, profile: str | None = None) -> list[Path]:
    from bench.figures import bar_chart, suite_figures

    suite_cls = SUITES.get(suite)
    records = all_records = read_records(results, suite)
    if not records:
        raise FileNotFoundError(f"no result records for suite '{suite}' under {results}/; "
                                f"run 'python -m bench run --suite {suite}' first")
    profiles = Counter(r["profile"] for r in records)
    profile = profile or profiles.most_common(1)[0][0]
    records = [r for r in records if r["profile"] == profile]
    if not records:
        raise FileNotFoundError(f"no records of profile '{profile}' for suite '{suite}' under {results}/; "
                                f"found profiles: {', '.join(profiles)}")
    mark_stale(all_records, suite)
    rows = collect_rows(records)
    paper = suite_cls.paper_reference()
    table = suite_cls.table
    out = out if profile == "cpu" else out / profile  # the default profile's report sits at the top
    out.mkdir(parents=True, exist_ok=True)
    stem = out / suite
    header, body = main_table(rows, table, paper, latex=False)
    ok_records = [r for row in rows for r in row.records]
    title = f"# {suite}: {suite_cls.paper_table or 'results'} — profile `{profile}`"
    command = f"python -m bench report --suite {suite}" + ("" if profile == "cpu" else f" --profile {profile}")
    intervals = any(bootstrap_interval(row, spec.key) for row in rows for spec in table)
    intro = (f"Generated by `{command}` from {len(records)} records under "
             f"`{results}/` ({len(ok_records)} ok). Mean ± std over seeds (sample std); ↓ lower is better, "
             f"↑ higher is better; best per column in bold (among rows without --set overrides"
             + ("; with any row whose mean lies inside the best one's bootstrap interval, a tie" if intervals else "")
             + f"); "
             f"{DASH} = the method cannot do this task; 'Conv.' = the training loss had settled (see 'Budget and "
             f"convergence'); '{FLOOR_LABEL}' = what held-out real data scores at the same sample size, so a "
             "difference smaller than it is noise; "
             + ("[a, b] = 95% bootstrap interval over the test rows (one-seed rows; the sampling noise of the "
                "evaluation, not the spread over training seeds); " if intervals else "")
             + "'paper' = the published value"
             + (f"; {STALE} = made by other code (see 'Records made by other code')." if any(
                 row.stale for row in rows) else "."))
    sections = [title, "", budget_line(rows), "", intro, "", markdown_table(header, body), ""]
    extras = [spec for spec in suite_cls.extra_metrics if any(spec.key in r["metrics"] for r in ok_records)]
    if extras:
        sections += ["## Beside the paper's table", "",
                     "Further metrics every record of this suite keeps, laid out like the table above.", "",
                     markdown_table(*main_table(rows, extras, {}, latex=False)), ""]
    findings = suite_cls.findings(rows)
    if findings:
        note = convergence_note(rows)
        sections += ["## The paper's findings, checked", ""] + ([note, ""] if note else [])
        sections += [f"- {f}" for f in findings] + [""]
        sections += variant_findings(rows, suite_cls)
    if suite_cls.media_layout():
        from bench.report_media import media_section

        sections += media_section(rows, suite_cls.media_layout(), paper)
    sections += budget_section(rows) + ranking_section(rows, table)
    sections += convergence_by_profile(all_records, table)
    sections += stale_section(records)
    failures = [(row.label, r) for row in rows for r in row.failed]
    if failures:
        sections += ["## Failed cells", ""] + [f"- {label} seed {r['seed']}: {r.get('reason')}"
                                                for label, r in failures] + [""]
    stopped = [r for r in records if r.get("status") == "interrupted"]
    if stopped:
        sections += ["## Interrupted cells (not in the tables)", ""]
        sections += [f"- {r['method']} seed {r['seed']}: {r.get('reason')} (at step {r.get('reached_step')})"
                     for r in stopped] + [""]
    written = [bar_chart(rows, table, paper, stem.with_suffix(".png"), title=f"{suite} ({profile})")]
    written += suite_figures(suite_cls, rows, out)
    figures = ", ".join(f"`{p.name}`" for p in written)
    sections += [per_direction_section(rows, table), other_profiles_section(all_records, profile, table),
                 settings_section(ok_records or records, suite_cls), "", f"Figures: {figures}."]
    md = stem.with_suffix(".md")
    md.write_text("\n".join(sections) + "\n")
    written.append(md)
    lheader, lbody = main_table(rows, table, paper, latex=True)
    tex = stem.with_suffix(".tex")
    tex.write_text(latex_table(lheader, lbody, f"{suite_cls.paper_table or suite}: ours vs paper ({profile})"))
    written.append(tex)
    csv = stem.with_suffix(".csv")
    wide_table(rows, table, paper).to_csv(csv, index=False)
    written.append(csv)
    return written
