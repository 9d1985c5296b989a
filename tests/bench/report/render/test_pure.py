"""Renderers format the results model and decide nothing: each module under bench/report/render/ imports from the
model only its types and constants (never a function that computes), and no statistics or data library."""
import ast
from pathlib import Path

import pytest

RENDER = Path(__file__).resolve().parents[4] / "bench" / "report" / "render"
COMPUTING = ("scipy", "sklearn", "torch", "ot", "metrics", "tasks.verdicts", "bench.core.records", "bench.run")
DRAWING = {"chart.py": {"numpy", "matplotlib"}}  # bar positions and the figure, not statistics


def imports(path: Path) -> list[tuple[str, list[str]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.append((node.module, [alias.name for alias in node.names]))
    return found


def is_value(name: str) -> bool:
    """A type (CamelCase) or a constant (UPPER_CASE), not a function."""
    return name[:1].isupper()


@pytest.mark.parametrize("path", sorted(RENDER.glob("*.py")), ids=lambda p: p.name)
def test_a_renderer_imports_the_models_types_and_no_computation(path):
    for module, names in imports(path):
        top = module.split(".")[0]
        assert not module.startswith(COMPUTING), f"{path.name} imports {module}"
        assert top != "numpy" or "numpy" in DRAWING.get(path.name, ()), f"{path.name} imports numpy"
        if module.startswith("bench.report.") and not module.startswith("bench.report.render"):
            functions = [n for n in names if not is_value(n)]
            assert not functions, f"{path.name} imports model functions {functions} from {module}"


def test_the_check_catches_a_renderer_that_computes(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from bench.report.budget import budgets, Budgets\nimport scipy.stats\n")
    found = dict(imports(bad))
    assert [n for n in found["bench.report.budget"] if not is_value(n)] == ["budgets"]
    assert "scipy.stats" in found
