"""The report page's layout: its sections in order, each rendered from the results model, written as Markdown."""
from __future__ import annotations

from pathlib import Path

from bench.report.model import Results
from bench.report.render import budget, markdown, sections
from bench.report.render.media import media_section
from bench.report.render.tables import written


def markdown_page(results: Results, results_dir: Path, figures: list[Path],
                  curves: dict[str, str] | None = None) -> str:
    """The page, rendered from the model alone: the answer first, then how to read it and the appendix."""
    more = results.appendix
    specs = results.table.specs
    lines = [*markdown.first_screen(results, curves), *markdown.agreement_section(more.agreement),
             *markdown.reading_guide(results, str(results_dir)), *markdown.equal_compute_lines(results.equal_compute),
             *markdown.extras_lines(results), *markdown.tuning_lines(results, curves or {}),
             *markdown.stability_lines(results), *sections.variant_findings(more.variant_findings, specs),
             *sections.sensitivity_lines(results.variants, specs), *media_section(more.media),
             *markdown.scope_section(more.scope), *budget.budget_lines(results.consumed),
             *budget.ranking_lines(results.moves), *budget.budgets_lines(results.budgets),
             *sections.stale_section(more.stale, results.left_out), *sections.failures_section(more.failures),
             *sections.per_direction_section(more.methods, more.directions),
             *sections.other_profiles_section(more.other_profiles, specs), *sections.settings_section(more.settings),
             *sections.provenance_lines(results.provenance), "",
             f"Figures: {', '.join(f'`{p.name}`' for p in figures)}."]
    return written(lines) + "\n"
