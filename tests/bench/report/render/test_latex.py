"""The LaTeX tables compile: built from a small fixture with every character the reports use, and checked for
structure (plain ASCII, booktabs rules, one & fewer than columns per row, balanced braces and math); where a TeX
engine is installed, the fixture is compiled too."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from bench.report.render.latex import latex_table

ROOT = Path(__file__).resolve().parents[4]
HEADER = ["Method", "Seeds", "1→1 Align. ↓", "Uncond. T–I ↑", "spread ≈", "paper"]
BODY = [["muni_hellinger ‡", "3", r"\textbf{0.0191 $\pm$ 1.87e-04}", "52.1 $\\pm$ 0.8", "1.27", "95%"],
        ["mvae [train.budget=flops, a & b #1]", "1", "—", "0.2 $\\pm$ 0.1", "×2 · τ − †", "…"],
        ["reference: oracle", "", "0.0000", "98.3", "0.78", ""]]


def check_structure(tex: str) -> None:
    assert tex.isascii(), sorted({ch for ch in tex if not ch.isascii()})
    assert tex.count(r"\begin{table}") == tex.count(r"\end{table}") == 1
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert re.search(r"\\label\{tab:[\w-]+\}", tex) and r"\caption{" in tex
    columns = len(re.search(r"\\begin\{tabular\}\{(\w+)\}", tex).group(1))
    rows = [line for line in tex.splitlines() if line.endswith(r"\\")]
    assert rows and all(len(re.findall(r"(?<!\\)&", line)) == columns - 1 for line in rows), rows
    unescaped = re.sub(r"\\.", "", tex)
    assert unescaped.count("{") == unescaped.count("}") and unescaped.count("$") % 2 == 0
    for line in rows:
        assert not re.search(r"(?<!\\)[_#%]", re.sub(r"\$[^$]*\$", "", line)), line  # specials outside math


def test_a_table_with_every_special_character_has_a_sound_structure():
    check_structure(latex_table(HEADER, BODY, "Table 3 (§6.3): ours vs paper (cpu)", "tab:image-text-audio-cpu"))


@pytest.mark.parametrize("path", sorted((ROOT / "reports").rglob("*.tex")), ids=lambda p: p.name)
def test_every_committed_latex_table_has_a_sound_structure(path):
    check_structure(path.read_text())


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no TeX engine here: the structure tests stand in")
def test_the_table_compiles_with_pdflatex(tmp_path):
    table = latex_table(HEADER, BODY, "Table 3 (6.3): ours vs paper (cpu)", "tab:fixture")
    (tmp_path / "t.tex").write_text("\\documentclass{article}\\usepackage{booktabs}\\begin{document}\n" + table
                                    + "\n\\end{document}\n")
    done = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "t.tex"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout[-2000:]
