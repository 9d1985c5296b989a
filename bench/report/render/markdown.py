"""The report page as Markdown, rendered from the results model (bench/report/model.py): the first screen holds the
answer — the title, one line with the budget, seeds and cells that settled, the table of the current code's plain
rows (mean ± SE and rank per column, ties marked, the reference rows), and the paper's findings with their verdicts;
how to read it and the appendix sections follow."""
from __future__ import annotations

import math

from bench.report.agreement import Agreement
from bench.report.appendix import Scope
from bench.report.model import FLOOR_LABEL, EqualCompute, Headline, Line, Results, Table, Value
from bench.report.render.tables import Lines
from bench.report.rows import SHARED
from tasks.findings import DECIDED_VERDICTS as DECIDED
from tasks.findings import Finding, Number

STALE = "‡"  # marks a row or record made by other code than this checkout's
DASH = "—"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def fmt(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:.4f}"
    return f"{x:.4f}" if abs(x) >= 1e-3 else f"{x:.2e}"


def mean_se(mean: float, se: float | None, pm: str = "±") -> str:
    """The mean to the decimals of its SE, the SE to two significant digits (fmt when there is no SE)."""
    if not se or not math.isfinite(se) or not math.isfinite(mean) or se < 1e-12 * max(1.0, abs(mean)):
        return fmt(mean)  # no noise known, or only the bootstrap's rounding of identical replicates
    decimals = max(0, 1 - math.floor(math.log10(se)))
    return f"{mean:.{decimals}f} {pm} {se:.{decimals}f}"


UNITS = {"steps": "number of steps", "samples": "samples", "flops": "FLOPs", "seconds": "seconds"}


def settings_text(overrides) -> str:
    """A row's --set settings as a user would type them (the shared-settings label as its flag)."""
    return " ".join("`--tuned off` (the shared settings)" if o == SHARED else f"`--set {o}`" for o in overrides)


def value_text(value: Value, latex: bool = False) -> str:
    """A cell: mean ± SE, bold at rank 1, then the rank ("=" where another row shares it)."""
    dash = "--" if latex else DASH
    if not value.supported:
        return dash
    if value.estimate is None:
        return "n/a"
    text = mean_se(value.estimate.mean, value.estimate.se, r"$\pm$" if latex else "±")
    if value.best:
        text = rf"\textbf{{{text}}}" if latex else f"**{text}**"
    if value.rank is not None:
        text += f" ({value.rank}{'=' if value.shared else ''})"
    return text


def paper_text(value: Value, latex: bool = False) -> str:
    return fmt(value.paper) if value.paper is not None else ("--" if latex else DASH)


def line_label(line: Line) -> str:
    if line.kind == "paper":
        return f"{line.label} (paper only; {line.why})"
    return line.label + (f" {STALE}" if line.stale else "")


def table_cells(table: Table, latex: bool = False) -> tuple[list[str], list[list[str]]]:
    """(header, body) of a table: per column our value and, where the paper's metric is the table's, the paper's."""
    header = ["Method", "Seeds", "Conv."]
    for spec in table.specs:
        header += [f"{spec.label} {spec.arrow}"] + (["paper"] if table.paper else [])
    body = []
    for line in table.lines:
        cells = [line_label(line), seeds_text(line), line.settled]
        for spec in table.specs:
            value = line.values.get(spec.key)
            if line.kind == "paper":
                ours = "--" if latex else DASH
            elif value is None:
                ours = ""
            else:
                ours = value_text(value, latex)
            cells.append(ours)
            if table.paper:
                cells.append(paper_text(value, latex) if line.published and value else "")
        body.append(cells)
    return header, body


def seeds_text(line: Line) -> str:
    if line.kind != "method":
        return ""
    return str(line.seeds) + (f" (+{line.failed} failed)" if line.failed else "")


def headline_text(h: Headline) -> str:
    """One line: the budget every method got, the seeds, the cells that settled, what was left out."""
    if not h.budgets:
        return "**No finished cell** at the table's settings."
    same = f"the same {UNITS.get(h.kind, 'budget')} for every method" if h.kind != "mixed" else "budgets differ"
    seeds = ", ".join(str(s) for s in h.seeds)
    parts = [f"**Budget** {'; '.join(h.budgets)} per cell ({same})", f"**seeds** {seeds}"]
    if not h.judged:
        parts.append("**settled** not judged (the records predate held-out curves)")
    else:
        unread = "" if h.judged == h.cells else f"; {h.cells - h.judged} cells predate held-out curves"
        moving = ("" if not h.moving else "; every method still moving" if len(h.moving) == h.methods
                  else f"; still moving: {', '.join(h.moving)}")
        parts.append(f"**settled** {h.settled} of {h.judged} cells{unread}{moving}")
    if h.stale:
        parts.append(f"**left out** {plural(h.stale, 'record')} made by other code (listed at the end)" if h.left_out
                     else f"{plural(h.stale, 'record')} made by other code, marked {STALE}")
    return " · ".join(parts)


def number_text(number: Number) -> str:
    shown = mean_se(number.mean, number.se) if number.se is not None else fmt(number.mean)
    return f"{number.role + ': ' if number.role else ''}{number.method} {number.metric} {shown}"


def finding_text(finding: Finding) -> str:
    """A finding in one line: the claim, the verdict in bold, our numbers (± SE), the paper's, the caveat."""
    text = f"{finding.claim}: **{finding.verdict}**"
    parts = []
    if finding.ours:
        parts.append("ours: " + ", ".join(number_text(n) for n in finding.ours))
    if finding.paper:
        parts.append("paper: " + ", ".join(number_text(n) for n in finding.paper))
    if finding.caveat:
        parts.append(finding.caveat)
    return text + (" — " + "; ".join(parts) if parts else "")


def rung_list(results: Results) -> str:
    """The rungs of the budget with numbers, with their steps and seeds."""
    return ", ".join(f"{rung.label} ({rung.steps} steps, {plural(max(len(row.records) for row in rung.rows), 'seed')})"
                     if rung.steps else rung.label for rung in results.rungs)


def rungs_text(results: Results) -> str:
    """Which rungs of the budget the verdicts were decided at."""
    return (f"Each verdict is decided at every rung of the budget with numbers — {rung_list(results)} — and marked "
            "*budget-stable* when it is the same at all of them, *budget-dependent* (with how it moves) when not.")


def findings_lines(results: Results) -> list[str]:
    if not results.findings and not results.notes:
        return []
    h = results.headline
    caveat = ([] if not h.moving else
              [f"Not every cell had settled ({h.settled} of {h.judged}), so these verdicts describe this budget, not "
               "the objectives' end points; the marks say whether they hold at the other budgets measured."])
    return ["## The paper's findings, checked", "", f"Settings: {results.tuning}. {rungs_text(results)}", "",
            *caveat, *([""] if caveat else []), *[f"- {f.claim}" for f in results.notes],
            *[f"- {finding_text(c.finding)}" + (f" · *{c.stability.describe()}*" if c.finding.verdict in DECIDED
                                                 else "") for c in results.findings], ""]


def figure_links(figures: dict[str, str]) -> list[str]:
    """The figures the first screen points at (name -> file)."""
    if not figures:
        return []
    return ["Figures: " + " · ".join(f"[{name}]({path})" for name, path in figures.items()), ""]


def first_screen(results: Results, figures: dict[str, str] | None = None) -> Lines:
    return [f"# {results.title}", "", headline_text(results.headline), "",
            table_cells(results.table), "", *figure_links(figures or {}), *findings_lines(results)]


def agreement_section(found: Agreement | None) -> Lines:
    if found is None:
        return []
    median = found.median
    body = [[c.column, c.paper_metric, str(c.methods), "n/a" if c.tau is None else f"{c.tau:+.2f}", c.ours, c.theirs]
            for c in found.columns]
    return ["## The paper's ranking beside ours", "",
            "The paper scores these cells with other metrics (named per column) on decoded media, so its values are "
            "not set beside ours (they sit beside the media metrics, where a run has them). What compares is the "
            "order of the methods: per column, Kendall's τ between the paper's ranking and ours over the methods "
            "both have (+1: the same order, −1: reversed; n/a below three methods)"
            + ("" if median is None else f"; the median over columns is {median:+.2f}") + ".", "",
            (["Column", "paper's metric", "methods in both", "τ", "our best", "paper's best"], body),
            ""]


def reading_guide(results: Results, results_dir: str) -> Lines:
    """How the table was made and how to read a cell, a rank and each reference row."""
    counts = results.appendix.counts
    lines = ["## How to read the table", "",
             f"Generated by `{results.command}` from {counts.records} records under `{results_dir}/` "
             f"({counts.ok} ok). A cell is mean ± SE: the mean over seeds and its standard error, which adds the "
             "spread over seeds (their unbiased variance over their number) and the test tuples' share of the noise "
             "(the bootstrap replicates every record keeps, the same tuple resamples for every method and reference "
             "row, so differences are paired); intervals take the Student t quantile at the Welch–Satterthwaite "
             "degrees of freedom, so few seeds give wide intervals (tests/tasks/test_coverage.py simulates their "
             "coverage)" + ("; with one seed per row, the SE covers the evaluation's sampling noise only, not the "
                            "spread over training runs" if counts.one_seed else "") + ". "
             "(k) is the row's rank in its column: 1 + the rows that beat it, where beating means the paired "
             "difference excludes 0 with the family-wise error over the column's pairs held at 5 % (Holm); k= marks "
             "a rank shared with another row (a tie). Bold: rank 1. "
             f"↓ lower is better, ↑ higher is better, ≈ closest to the real data's value (the oracle row) is better. "
             f"{DASH} = the method cannot do this task; 'Conv.' = every cell had settled on its held-out curves (see "
             "'Budget and convergence')" + ("; 'paper' = the published value" if results.table.paper else "")
             + (f"; {STALE} = made by other code (see 'Records made by other code')"
                if any(line.stale for line in results.table.lines) else "") + "."]
    if counts.bare:
        lines += ["", f"{counts.bare} rows come from records older than the tuple bootstrap (no resamples kept): their "
                  "± is the spread over seeds only, and a one-seed row has none, so ties with them are not decided."]
    if results.references:
        lines += ["", "Reference rows, scored by the same engine on the same test tuples:", ""]
        lines += [f"- `reference: {name}` — {label}." for name, label in results.references.items()]
    elif any(line.kind == "floor" for line in results.table.lines):
        lines += ["", f"'{FLOOR_LABEL}': the records predate reference rows; on conditional tasks "
                  "their oracle was the test tuples' own targets (an identity where the metric compares with that "
                  "target)."]
    return lines + [""]


def tuning_lines(results: Results, curves: dict[str, str]) -> Lines:
    """How the table's settings were chosen: each method's trials, their scores and the selected one."""
    model = results.tuned
    if model is None:
        return ["## Tuning", "", f"Settings: {results.tuning}.", ""]
    count = max((len(m.trials) for m in model.methods), default=0)
    header = ["Method"] + [f"trial {k}" for k in range(count)] + ["selected"]
    body = []
    for method in model.methods:
        cells = [method.method]
        for trial in method.trials:
            settings = ", ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in trial.settings.values())
            score = ("failed" if trial.status == "failed" else "pending" if trial.status == "pending"
                     else f"rank {trial.score:.2f}" if trial.score is not None else "")
            text = f"{settings} ({score})"
            cells.append(f"**{text}**" if trial.selected else text)
        cells += [""] * (count - len(method.trials))
        cells.append("-" if method.selected is None else f"trial {method.selected}")
        body.append(cells)
    searched = ", ".join(dict.fromkeys(k for m in model.methods for t in m.trials for k in t.settings))
    links = " and ".join(f"[{name}]({path})" for name, path in curves.items() if name.startswith("tuning"))
    return ["## Tuning: the same effort for every method", "",
            f"Settings: {results.tuning}. Every method gets the same trials of {searched}, drawn i.i.d. by a seeded "
            "random sampler (trial k has the same settings for every method), each trained as an ordinary cell at "
            f"the profile's other settings. Selected: {results.selection}. Test tuples are never read.", "",
            (header, body), "",
            "A trial's cell: its settings (its mean validation rank among the method's trials; lower is better). "
            f"Tuning curves ({links or 'not drawn'}): the expected best validation value after k of these trials, "
            "per method and headline metric, with the band of the median curve: a method whose curve still falls "
            "at the last trial would gain from more tuning, so a verdict against it may be the tuning's.", ""]


def stability_lines(results: Results) -> Lines:
    """Each column's adjacent pairs decided at every rung of the budget."""
    if len(results.rungs) < 2 or not results.pairs:
        return []
    labels = [rung.label for rung in results.rungs]
    specs = {spec.key: spec for spec in results.table.specs}
    body = [[f"{specs[pair.metric].label} {specs[pair.metric].arrow}", f"{pair.better} vs {pair.worse}",
             *[pair.stability.by_rung.get(label, DASH) for label in labels],
             "stable" if pair.stability.stable else "moves" if pair.stability.stable is False else DASH]
            for pair in results.pairs]
    stable = sum(pair.stability.stable is True for pair in results.pairs)
    return ["## Is the ranking the budget's?", "",
            f"Each column's rows in order of their mean at the budget, and each adjacent pair decided again at every "
            f"rung ({rung_list(results)}): 'ahead' when the first row is better beyond the "
            f"noise (a paired 95 % interval), 'tie' when not. {stable} of {len(results.pairs)} adjacent pairs keep "
            "their verdict at every rung.", "",
            (["Column", "pair", *labels, "across rungs"], body), ""]


def equal_compute_lines(tables: list[EqualCompute]) -> Lines:
    lines: list[str] = []
    for variant in tables:
        settings = settings_text(variant.overrides)
        lines += [f"## At equal compute: {settings}", "", headline_text(variant.headline), ""]
        if variant.missing:
            lines += [f"Not run at this budget: {', '.join(variant.missing)}.", ""]
        lines += [table_cells(variant.table), ""]
    return lines


def extras_lines(results: Results) -> Lines:
    if results.extras is None:
        return []
    return ["## Beside the paper's table", "", "Further metrics every record of this suite keeps, laid out like the "
            "table above.", "", table_cells(results.extras), ""]


def scope_section(scope: Scope | None) -> Lines:
    """What this profile's table can and cannot show: for each column, whether it separates the methods (some
    method ranks below 1: another beats it) or every method shares rank 1, and how far the best is from the oracle
    reference row. A finding that rests on a column that separates nothing is not decided by this budget, whatever
    the paper's numbers say."""
    if scope is None:
        return []
    lines = []
    for column in scope.columns:
        against = "" if column.oracle is None else f" against the oracle reference's {fmt(column.oracle.mean)}"
        shown = mean_se(column.top.mean, column.top.se)
        head = f"- **{column.spec.label}**: "
        if not column.separates:
            lines.append(head + f"does not separate the methods: all {column.scored} share rank 1 "
                         f"({column.best[0]}, {shown}{against}).")
        else:
            lines.append(head + f"separates them: {len(column.best)} of {column.scored} at rank 1 "
                         f"({', '.join(column.best)}; {shown}{against}).")
    blind = scope.blind
    summary = ("Every column separates at least two methods." if not blind else
               f"**This profile cannot separate the methods on {', '.join(blind)}**: every method shares rank 1 "
               "there, so the table and the findings say nothing about the methods on those columns at this "
               "budget; a longer budget or the paper profile (`scripts/`) is needed for them.")
    made = f" ({scope.stale} of them made by other code than this checkout's, {STALE})" if scope.stale else ""
    return ["## What this profile can and cannot show", "",
            f"Per column of the table, from its {scope.rows} plain rows{made}: whether any method is beaten by "
            "another (the 95% interval of their paired difference excludes 0), and the best value beside the oracle "
            "reference row's.", "", summary, "", *lines, ""]
