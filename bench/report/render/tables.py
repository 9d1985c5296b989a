"""How a rendered page is written: renderers return their sections as lines, a table among them as its
(header, body) cells, and `written` turns the whole page into Markdown in one place."""
from __future__ import annotations

Cells = tuple[list[str], list[list[str]]]  # a table: (header, body)
Lines = list["str | Cells"]


def markdown_table(header: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join(cells) + " |" for cells in body]
    return "\n".join(lines)


def written(lines: Lines) -> str:
    """The page's Markdown: each line as it is, each table as a Markdown table."""
    return "\n".join(line if isinstance(line, str) else markdown_table(*line) for line in lines)
