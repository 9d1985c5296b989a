"""The project's layers import downward only: base → methods, metrics → tasks → bench. Every import counts,
at module level, inside a function or for type checking only; and no two modules import each other at run time."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {"base": {"base"}, "methods": {"base", "methods"}, "metrics": {"base", "metrics"},
           "tasks": {"base", "methods", "metrics", "tasks"}, "bench": {"base", "methods", "metrics", "tasks", "bench"}}


def type_checking_blocks(tree: ast.Module) -> set[int]:
    blocks = [b for b in ast.walk(tree) if isinstance(b, ast.If) and ast.unparse(b.test) == "TYPE_CHECKING"]
    return {id(n) for block in blocks for n in ast.walk(block)}


def project_imports(path: Path, run_time_only: bool = False) -> set[str]:
    found = set()
    tree = ast.parse(path.read_text())
    skip = type_checking_blocks(tree) if run_time_only else set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name.split(".")[0] in ALLOWED}


def modules() -> dict[str, Path]:
    return {".".join(p.relative_to(ROOT).with_suffix("").parts): p
            for layer in ALLOWED for p in (ROOT / layer).rglob("*.py")}


def test_no_layer_imports_one_above_it():
    upward = [f"{name} imports {target}" for name, path in modules().items()
              for target in project_imports(path) if target.split(".")[0] not in ALLOWED[name.split(".")[0]]]
    assert upward == []


def test_no_two_modules_import_each_other():
    known = modules()
    edges = {name: {t for t in project_imports(path, run_time_only=True) if t in known and t != name}
             for name, path in known.items()}
    cycles = sorted(f"{a} <-> {b}" for a in edges for b in edges[a] if a < b and a in edges.get(b, set()))
    assert cycles == []
