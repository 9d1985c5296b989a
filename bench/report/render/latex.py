"""A report's tables as LaTeX (booktabs), rendered from the results model: the same cells as the Markdown page,
escaped to plain ASCII that pdflatex compiles."""
from __future__ import annotations

import pandas as pd

from bench.report.model import Table
from bench.report.render.markdown import table_cells

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


def render(table: Table, caption: str, label: str) -> str:
    return latex_table(*table_cells(table, latex=True), caption=caption, label=label)
