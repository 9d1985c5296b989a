"""Fingerprints of the code behind a result. A record is reused only when the sources that determine its numbers
are byte for byte the ones that made it; the record keeps a hash per file, so a report can say what changed.

Which sources count: the method's module, the suite's module, the cell and training loop (bench/cell.py,
bench/train.py), and every project module they import at module level, transitively. Imports inside functions
do not count: by convention report and figure code is imported there, and it does not change numbers. This
module imports nothing heavy, so the command line can use it before torch is loaded."""
from __future__ import annotations

import ast
import hashlib
from pathlib import Path

PACKAGES = ("base", "bench", "methods", "metrics", "tasks")
ROOT = Path(__file__).resolve().parent.parent  # the directory holding the project's packages
CELL_MODULES = ("bench.cell", "bench.train")  # what every cell runs, whatever its method and suite


def module_path(name: str) -> Path | None:
    """The source file of a project module, or None for anything outside the project."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def top_level_imports(name: str, path: Path) -> set[str]:
    """Project modules that `name` imports at module level (not under `if TYPE_CHECKING`, not in functions)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:  # `from pkg import module` imports the module; `from pkg import name` the package
                found.add(f"{base}.{alias.name}" if module_path(f"{base}.{alias.name}") else base)
    return {m for m in found if module_path(m) is not None}


def source_files(roots: list[str]) -> list[Path]:
    """The files of `roots` and of every project module they import at module level, transitively."""
    seen: dict[str, Path] = {}
    todo = [r for r in roots if module_path(r) is not None]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = module_path(name)
        todo.extend(top_level_imports(name, seen[name]) - set(seen))
    return sorted(set(seen.values()))


def file_hashes(paths: list[Path]) -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in paths}


def combine(hashes: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{k} {v}" for k, v in sorted(hashes.items())).encode()).hexdigest()[:12]


def code_fingerprint(method_module: str, suite_module: str) -> dict[str, object]:
    """{"fingerprint": 12 hex digits, "files": {relative path: hash}} of the code that makes one cell's numbers."""
    hashes = file_hashes(source_files([method_module, suite_module, *CELL_MODULES]))
    return {"fingerprint": combine(hashes), "files": hashes}


def changed_files(recorded: dict[str, str] | None, current: dict[str, str]) -> list[str]:
    """Files that differ between a record's code and the current code (added, removed or edited)."""
    recorded = recorded or {}
    return sorted(f for f in set(recorded) | set(current) if recorded.get(f) != current.get(f))


def project_fingerprint(extra: tuple[str, ...] = ("bench/profiles",)) -> str:
    """A hash of every project source file (and the profiles): what `bench list` shows depends on all of them."""
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    paths += [p for folder in extra for p in (ROOT / folder).glob("*.yaml")]
    return combine(file_hashes(sorted(paths)))
