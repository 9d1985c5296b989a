"""The project's layers import downward only: base → methods, metrics → tasks → bench; and no group of modules
imports itself round. Every import counts — at module level, inside a function, or for type checking only —
relative imports are resolved, and `from package import name` is an import of the package's module `name` when
there is one, else of the package's __init__."""
import ast
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {"base": {"base"}, "methods": {"base", "methods"}, "metrics": {"base", "metrics"},
           "tasks": {"base", "methods", "metrics", "tasks"}, "bench": {"base", "methods", "metrics", "tasks", "bench"}}


def modules() -> dict[str, Path]:
    """Module name -> file; a package is named by its folder (tasks, not tasks.__init__)."""
    found = {}
    for layer in ALLOWED:
        for path in (ROOT / layer).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m in known and m != name}


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_no_layer_imports_one_above_it():
    upward = [f"{name} imports {target}" for name, targets in graph().items()
              for target in targets if target.split(".")[0] not in ALLOWED[name.split(".")[0]]]
    assert upward == []


def cycles(edges: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected groups of more than one module: each imports itself through the others."""
    names = sorted(edges)
    index = {n: i for i, n in enumerate(names)}
    rows = [index[a] for a in names for b in edges[a]]
    cols = [index[b] for a in names for b in edges[a]]
    matrix = csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(names), len(names)))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    groups = [{names[i] for i in np.flatnonzero(labels == label)} for label in np.unique(labels)]
    return sorted((g for g in groups if len(g) > 1), key=sorted)


def test_the_cycle_finder_sees_a_cycle_of_three_and_a_package_imported_by_name():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [{"a", "b", "c"}]
    known = {"pkg": Path("pkg/__init__.py"), "pkg.mod": Path("pkg/mod.py"), "pkg.other": Path("pkg/other.py")}
    tree = "from pkg import mod, NAME\nfrom . import other\n"
    path = ROOT / "tests" / "_layers_probe.py"
    path.write_text(tree)
    try:
        assert imports("pkg.mod2", path, known) == {"pkg.mod", "pkg", "pkg.other"}
    finally:
        path.unlink()


def test_no_group_of_modules_imports_itself_round():
    assert cycles(graph()) == []
