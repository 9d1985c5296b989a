"""`bench report`: build the results model of one suite and profile from its records (bench/report/model.py) and
write its renderings (bench/report/render/): the page (<suite>.md: the answer first, then how to read it and the
appendix), the table as LaTeX (booktabs) and CSV, and the figures. Every section is rendered from the model
alone."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from bench.core.records import read_records
from bench.core.tuned import read_tuned, tuned_path
from bench.report.model import Results, build
from bench.report.render import budget, chart, latex, markdown, sections
from bench.report.render.agreement import agreement_section
from bench.report.render.media import media_section
from bench.report.render.table_csv import wide_frame
from bench.report.render.tables import written
from bench.report.rows import default_profile, mark_stale
from tasks import SUITES


def page(results: Results, results_dir: Path, figures: list[Path], curves: dict[str, str] | None = None) -> str:
    """The page, rendered from the model alone: the answer first, then how to read it and the appendix."""
    more = results.appendix
    specs = results.table.specs
    lines = [*markdown.first_screen(results, curves), *agreement_section(more.agreement),
             *markdown.reading_guide(results, str(results_dir)), *markdown.equal_compute_lines(results.equal_compute),
             *markdown.extras_lines(results), *markdown.tuning_lines(results, curves or {}),
             *markdown.stability_lines(results), *sections.variant_findings(more.variant_findings, specs),
             *markdown.sensitivity_lines(results.variants, specs), *media_section(more.media),
             *sections.scope_section(more.scope), *budget.budget_lines(results.consumed),
             *budget.ranking_lines(results.moves), *budget.budgets_lines(results.budgets),
             *sections.stale_section(more.stale, results.left_out), *sections.failures_section(more.failures),
             *sections.per_direction_section(more.methods, more.directions),
             *sections.other_profiles_section(more.other_profiles, specs), *sections.settings_section(more.settings),
             *markdown.provenance_lines(results.provenance), "",
             f"Figures: {', '.join(f'`{p.name}`' for p in figures)}."]
    return written(lines) + "\n"


def curve_files(results: Results, stem: Path) -> dict[str, str]:
    """The learning-curve figure and, where methods were tuned, the tuning-curve figure and CSV: name -> file
    (beside the page)."""
    from bench.figures.curves import learning_figure, tuning_figure
    from bench.report import learning, tuning

    found = {}
    path = learning_figure(learning.learning_panels(results.learning), stem.with_name(f"{stem.name}_learning.png"),
                           learning.FIGURE_TITLE)
    if path is not None:
        found["learning curves"] = path.name
    if results.tuned is not None:
        path = tuning_figure(tuning.tuning_panels(results.tuned), stem.with_name(f"{stem.name}_tuning.png"),
                             tuning.FIGURE_TITLE)
        if path is not None:
            found["tuning curves"] = path.name
        found["tuning curves (CSV)"] = tuning.write_tuning_csv(
            results.tuned, stem.with_name(f"{stem.name}_tuning.csv")).name
    return found


def write_report(suite: str, results_dir: Path, out: Path, profile: str | None = None,
                 include_stale: bool = False) -> list[Path]:
    from bench.figures.plots import suite_figures

    suite_cls = SUITES.get(suite)
    all_records = read_records(results_dir, suite)
    if not all_records:
        raise FileNotFoundError(f"no result records for suite '{suite}' under {results_dir}/; "
                                f"run 'python -m bench run --suite {suite}' first")
    profiles = Counter(r.profile for r in all_records)
    profile = profile or default_profile(all_records)
    records = [r for r in all_records if r.profile == profile]
    if not records:
        raise FileNotFoundError(f"no records of profile '{profile}' for suite '{suite}' under {results_dir}/; "
                                f"found profiles: {', '.join(profiles)}")
    mark_stale(all_records, suite)
    results = build(suite, records, all_records, profile, include_stale,
                    read_tuned(tuned_path(results_dir, suite, profile)))
    out = out if profile == "cpu" else out / profile  # the default profile's report sits at the top
    out.mkdir(parents=True, exist_ok=True)
    stem = out / suite
    curves = curve_files(results, stem)
    written = [chart.bar_chart(results.table, stem.with_suffix(".png"), title=f"{suite} ({profile})")]
    if results.extras is not None:
        written.append(chart.bar_chart(results.extras, out / f"{suite}_extras.png", title=f"{suite}: extra metrics"))
    written += suite_figures(suite_cls, results.rows, out)
    md = stem.with_suffix(".md")
    written += [out / name for name in curves.values()]
    md.write_text(page(results, results_dir, written, curves))
    tex = stem.with_suffix(".tex")
    caption = f"{suite_cls.paper_table or suite}: ours" + (" vs paper" if results.table.paper else "") + f" ({profile})"
    tex.write_text(latex.render(results.table, caption, label=f"tab:{suite}-{profile}".replace("_", "-")))
    csv = stem.with_suffix(".csv")
    wide_frame(results.table, results.variant_lines).to_csv(csv, index=False)
    return [*written, md, tex, csv]
