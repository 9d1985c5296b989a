"""The appendix of a report page, in Markdown, from the appendix's model (bench/report/appendix.py): what each column
can separate, the findings again per variant, each direction's values, the other profiles' rows, the settings
and provenance of the records, the records made by other code, and the failed and interrupted cells."""
from __future__ import annotations

from bench.core.convergence import SETTLED_RULE
from bench.report.appendix import Directions, Failures, ProfilePair, Settings, StaleCommit, VariantFindings
from bench.report.budget import Settled
from bench.report.model import Provenance, Variant
from bench.report.render.markdown import DASH, STALE, finding_text, fmt, plural, settings_text
from bench.report.render.tables import Lines
from tasks.base import MetricSpec


def stale_section(commits: list[StaleCommit], left_out: bool) -> Lines:
    """The appendix of records made by other code, one line per commit: its methods and the result-determining
    files that differ from this checkout's (files since removed are counted, not named)."""
    if not commits:
        return []
    where = ("left out of the tables above (`bench report --include-stale` puts them back, marked "
             f"{STALE})" if left_out else f"in the tables above, marked {STALE}")
    lines = ["## Records made by other code", "",
             f"{sum(c.records for c in commits)} records of this profile were made by code whose result-determining "
             f"files differ from this checkout's, so they are {where}: their numbers are what that code gave. "
             "Rerunning the same `bench run` command trains them again.", ""]
    for c in commits:
        what = "; ".join(c.notes + ([f"differs in {', '.join(c.differ)}"] if c.differ else [])
                         + ([f"{c.gone} files since removed"] if c.gone else []))
        lines.append(f"- commit {c.commit}: {plural(c.records, 'record')} ({', '.join(c.methods)}); {what}")
    return lines + [""]


def convergence_note(s: Settled) -> str | None:
    """One sentence for the findings: whether every cell had settled on its held-out curves."""
    if not s.known:
        return None
    unread = "" if s.known == s.cells else f" ({s.cells - s.known} cells predate held-out curves and are not judged)"
    if not s.moving:
        return (f"Every judged cell had settled ({s.done} of {s.known}; settled: {SETTLED_RULE}){unread}, so these "
                "verdicts describe trained models at this budget.")
    return (f"**{len(s.moving)} of {s.methods} methods had not settled** in every cell ({s.done} of {s.known} cells "
            f"settled{unread}; not settled: {', '.join(s.moving)}): the verdicts below describe this budget, not "
            "the objectives' end points.")


def variant_findings(variants: list[VariantFindings], table: list[MetricSpec]) -> Lines:
    """The findings again for each --set variant at least two methods ran; the table's methods that lack it are
    named, and the findings that need them say so."""
    lines: list[str] = []
    for v in variants:
        low, high = v.seeds
        seeds = f"{low}-{high} seeds" if low < high else f"{low} seed{'s' if low > 1 else ''}"
        stale = f"; {STALE} made by other code" if v.stale else ""
        note = convergence_note(v.settled)
        scope = "every method" if not v.missing else f"{v.methods} methods"
        lines += [f"### The same findings with {scope} at {settings_text(v.overrides)} ({seeds} per method{stale})",
                  ""]
        if v.missing:
            lines += [f"Not run with this variant: {', '.join(v.missing)}.", ""]
        lines += [*side_by_side(v, table), ""]
        lines += ([note, ""] if note else []) + [f"- {finding_text(f) if f.is_claim else f.claim}" for f in v.findings]
        lines += [""]
    return lines


def side_by_side(variant: VariantFindings, table: list[MetricSpec]) -> Lines:
    """Means of each method at the table's own settings and at a variant: steps trained, convergence, metrics."""
    header = ["Method", "steps", "Conv."] + [f"{spec.label} {spec.arrow}" for spec in table]
    body = [[m.method, " → ".join(m.steps), " → ".join(m.settled)]
            + [DASH if m.means[spec.key] is None else " → ".join(map(fmt, m.means[spec.key])) for spec in table]
            for m in variant.side_by_side]
    return ["Table settings → this variant (means over seeds):", "", (header, body)]


def per_direction_section(methods: list[str], columns: list[Directions]) -> Lines:
    """Each column's directions, mean over seeds ± SE."""
    parts = ["## Per direction (mean ± SE)", "",
             "SE here: √(SD² over seeds / seeds + mean over seeds of the direction's tuple-bootstrap SE²), an "
             "approximation of the two-level bootstrap of the tables above (records keep each direction's SE, not "
             "its resamples).", ""]
    for column in columns:
        def cell(found: tuple[float, float | None] | None) -> str:
            return DASH if found is None else fmt(found[0]) + (f" ± {fmt(found[1])}" if found[1] else "")

        body = [[d] + [cell(by_method.get(m)) for m in methods] for d, by_method in column.values.items()]
        parts += [f"### {column.spec.label} {column.spec.arrow} (`{column.spec.key}`)", "",
                  (["direction", *methods], body), ""]
    return parts


def settings_section(found: Settings) -> Lines:
    """Settings shared by every included record, the ones that differ, the choices the paper leaves open."""
    skip = ("suite", "profile", "overrides")
    lines = ["## Settings", ""]
    if found.common:
        lines += ["Every cell was run with " + " ".join(f"`--set {o}`" for o in found.common), ""]
    lines += ["Shared by every cell in this table:", ""]
    lines += [f"- `{k}` = `{v}`" for k, v in found.shared.items() if not k.startswith(skip)]
    if found.varying:
        lines += ["", "Differing between rows: " + ", ".join(f"`{k}`" for k in found.varying)]
    lines += ["", "## Deviations from the paper and choices it leaves open", ""]
    lines += [f"- {note}" for note in found.notes]
    lines += ["", "Each method's own options in these records (`--set <method>.<option>=...`; the spec's "
              "provenance tags in `methods/*.py`), beside the shared `flow.weight_clip` and "
              "`flow.encoder_grad_scale` above:", ""]
    lines += [f"- `{method}`: " + ", ".join(f"`{k}={v}`" for k, v in options.items())
              for method, options in found.options.items() if options]
    return lines + [""]


def other_profiles_section(pairs: list[ProfilePair], table: list[MetricSpec]) -> Lines:
    """The plain rows of every other profile's records beside this one's: the same code at another budget."""
    if not pairs:
        return [""]
    lines = ["## The same methods at other profiles", "",
             "Means over seeds of the plain rows (no extra `--set`), from the records of each profile (their SE "
             "are in each profile's own report); the profiles differ in budget and network size "
             "(`bench/profiles/`), so compare orderings, not values. "
             f"{STALE} marks a method whose records at either profile were made by other code.", ""]
    for pair in pairs:
        header = ["Method"] + [f"{spec.label} {spec.arrow} ({p})" for spec in table for p in (pair.profile, pair.other)]
        body = [[m + (f" {STALE}" if pair.stale[m] else "")]
                + [DASH if value is None else fmt(value) for spec in table for value in pair.means[m][spec.key]]
                for m in pair.methods]
        low, high = pair.seeds
        count = f"{low}" if low == high else f"{low}-{high}"
        lines += [f"### `{pair.profile}` vs `{pair.other}` ({count} seeds per mean)", "", (header, body),
                  ""]
    return lines


def failures_section(found: Failures) -> Lines:
    """Cells that failed (with their reason) and cells the user stopped, neither of them in the tables."""
    lines = []
    if found.failed:
        lines += ["## Failed cells", ""] + [f"- {label} seed {seed}: {reason}"
                                            for label, seed, reason in found.failed] + [""]
    if found.stopped:
        lines += ["## Interrupted cells (not in the tables)", ""]
        lines += [f"- {method} seed {seed}: {reason} (at step {step})"
                  for method, seed, reason, step in found.stopped] + [""]
    return lines


def sensitivity_lines(variants: list[Variant], specs: list[MetricSpec]) -> Lines:
    """Each variant as the change it makes against the same method's plain row."""
    if not variants:
        return []
    lines = ["## Sensitivity: what each variant changes", "",
             "Each `--set` variant against the same method's row in the table: the change of the mean (variant − "
             "table row) ± its SE, in bold where its 95% interval excludes 0, and the method's rank among the "
             f"table's rows before → with this row in its place (ties share a rank). {STALE}: a row made by other "
             "code.", ""]
    header = ["Method"] + [f"Δ {spec.label}" for spec in specs]
    for variant in variants:
        lines += [f"### {settings_text(variant.overrides)}", ""]
        if variant.missing:
            lines += [f"Not run with this variant: {', '.join(variant.missing)}.", ""]
        body = []
        for method in variant.methods:
            cells = [method + (f" {STALE}" if variant.stale[method] else "")]
            for spec in specs:
                change = variant.changes[method][spec.key]
                delta = change.delta
                if delta is None:
                    cells.append(DASH)
                    continue
                text = f"{delta.value:+.4g} ± {delta.se:.2g}" if delta.known else f"{delta.value:+.4g}"
                if delta.decide() is not None:
                    text = f"**{text}**"  # the interval excludes 0: the variant changed this value
                if change.before is not None and change.after is not None:
                    text += f" (rank {change.before}→{change.after})"
                cells.append(text)
            body.append(cells)
        lines += [(header, body), ""]
    return lines


def provenance_lines(made: Provenance) -> Lines:
    return (["## Provenance", ""] + [f"- code commit {c}: {n} records" for c, n in made.commits.items()]
            + [f"- device {d}: {n} records" for d, n in made.devices.items()]
            + [f"- command `{c}`: {n} records" for c, n in made.commands.items()]
            + [f"- wall time per cell: median {made.median_seconds:.0f} s, total {made.total_minutes:.1f} min"])
