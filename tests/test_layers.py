"""The project's layers import downward only: base → methods, metrics → tasks → bench → scripts, and inside bench
core → figures → run, report (never each other) → perf, tune → the command line; and no group of modules imports
itself round. Every import counts — at module level, inside a function, or for type checking only — relative
imports are resolved, and `from package import name` is an import of the package's module `name` when there is
one, else of the package's __init__."""
import ast
from pathlib import Path

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from bench.core.fingerprint import imported_names

ROOT = Path(__file__).resolve().parent.parent
ALLOWED = {"base": {"base"}, "methods": {"base", "methods"}, "metrics": {"base", "metrics"},
           "tasks": {"base", "methods", "metrics", "tasks"}, "bench": {"base", "methods", "metrics", "tasks", "bench"},
           "scripts": {"base", "methods", "metrics", "tasks", "bench", "scripts"}}
# bench's rooms by floor: a module imports its own room or rooms on lower floors; rooms on one floor never meet
BENCH_FLOORS = {"bench.core": 0, "bench.figures": 1, "bench.run": 2, "bench.report": 2, "bench.perf": 3,
                "bench.tune": 3}
TOP_FLOOR = 4  # bench/__init__, __main__, cli, listing: the command line


def modules(root: Path = ROOT, layers=tuple(ALLOWED)) -> dict[str, Path]:
    """Module name -> file; a package is named by its folder (tasks, not tasks.__init__)."""
    found = {}
    for layer in layers:
        for path in (root / layer).rglob("*.py"):
            parts = path.relative_to(root).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = ast.walk(ast.parse(path.read_text()))
    found = {m for node in nodes for m in imported_names(node, package, known.__contains__)}
    return {m for m in found if m in known and m != name}


def graph(root: Path = ROOT, layers=tuple(ALLOWED)) -> dict[str, set[str]]:
    known = modules(root, layers)
    return {name: imports(name, path, known) for name, path in known.items()}


def room(name: str) -> str:
    return ".".join(name.split(".")[:2]) if ".".join(name.split(".")[:2]) in BENCH_FLOORS else "bench"


def floor(name: str) -> int:
    return BENCH_FLOORS.get(room(name), TOP_FLOOR)


def upward(edges: dict[str, set[str]]) -> list[str]:
    """Imports of a layer above the importer's, or of a bench room not below its own."""
    found = []
    for name, targets in edges.items():
        for target in targets:
            layer, other = name.split(".")[0], target.split(".")[0]
            if other not in ALLOWED[layer]:
                found.append(f"{name} imports {target}")
            elif layer == other == "bench" and room(name) != room(target) and floor(target) >= floor(name):
                found.append(f"{name} imports {target}")
    return sorted(found)


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


def test_no_layer_or_room_imports_one_above_it():
    assert upward(graph()) == []


def test_no_group_of_modules_imports_itself_round():
    assert cycles(graph()) == []


def test_every_bench_module_has_a_floor_and_the_rooms_exist():
    rooms = {room(name) for name in modules() if name.startswith("bench")}
    assert rooms == {*BENCH_FLOORS, "bench"}
    top = sorted(name for name in modules() if name.startswith("bench") and room(name) == "bench")
    assert top == ["bench", "bench.__main__", "bench.cli", "bench.listing"]


def test_a_planted_cycle_of_three_through_an_init_and_upward_imports_are_caught(tmp_path):
    """Real files: bench/run/__init__ imports its module a, a imports b inside a function, b imports the package
    by name for type checking only; plus a run module importing report, and a method importing tasks."""
    files = {
        "bench/__init__.py": "",
        "bench/run/__init__.py": "from . import a\n",
        "bench/run/a.py": "def go():\n    from bench.run.b import thing\n    return thing\n",
        "bench/run/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from bench import run\nthing = 1\n",
        "bench/run/c.py": "from bench.report.page import write_report\n",
        "bench/report/__init__.py": "", "bench/report/page.py": "from bench.core import config\n",
        "bench/core/__init__.py": "", "bench/core/config.py": "",
        "methods/__init__.py": "", "methods/m.py": "import tasks.t\n", "tasks/__init__.py": "", "tasks/t.py": "",
    }
    for relative, text in files.items():
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(text)
    edges = graph(tmp_path, ("bench", "methods", "tasks"))
    assert cycles(edges) == [{"bench.run", "bench.run.a", "bench.run.b"}]
    assert upward(edges) == ["bench.run.c imports bench.report.page", "methods.m imports tasks.t"]


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
