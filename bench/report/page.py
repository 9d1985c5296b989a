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
from bench.report.render import chart, latex
from bench.report.render.layout import markdown_page
from bench.report.render.table_csv import wide_frame, write_tuning_csv
from bench.report.rows import default_profile, mark_stale
from tasks import SUITES


def curve_files(results: Results, stem: Path) -> dict[str, str]:
    """The learning-curve figure and, where methods were tuned, the tuning-curve figure and CSV: name -> file
    (beside the page)."""
    from bench.figures.curves import learning_figure, tuning_figure
    from bench.report.learning import FIGURE_TITLE as LEARNING
    from bench.report.tuning import FIGURE_TITLE as TUNING

    found = {}
    learning, tuning = results.panels
    path = learning_figure(learning, stem.with_name(f"{stem.name}_learning.png"), LEARNING)
    if path is not None:
        found["learning curves"] = path.name
    if tuning is not None:
        path = tuning_figure(tuning, stem.with_name(f"{stem.name}_tuning.png"), TUNING)
        if path is not None:
            found["tuning curves"] = path.name
        found["tuning curves (CSV)"] = write_tuning_csv(results.tuned, stem.with_name(f"{stem.name}_tuning.csv")).name
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
    tex, csv, md = stem.with_suffix(".tex"), stem.with_suffix(".csv"), stem.with_suffix(".md")
    wide_frame(results.table, results.variant_lines).to_csv(csv, index=False)
    figures = [chart.bar_chart(results.table, stem.with_suffix(".png"), title=f"{suite} ({profile})")]
    if results.extras is not None:
        figures.append(chart.bar_chart(results.extras, out / f"{suite}_extras.png", title=f"{suite}: extra metrics"))
    figures += suite_figures(suite_cls, results.rows, out)
    figures += [out / name for name in curves.values()]
    caption = f"{suite_cls.paper_table or suite}: ours" + (" vs paper" if results.table.paper else "") + f" ({profile})"
    tex.write_text(latex.render(results.table, caption, label=f"tab:{suite}-{profile}".replace("_", "-")))
    md.write_text(markdown_page(results, results_dir, figures, curves))
    return [*figures, md, tex, csv]
