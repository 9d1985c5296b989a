"""Fingerprints of the code behind a result. A record is reused only when the code that determines its numbers
is the code that made it.

Which sources count: the method's module, the suite's module, the cell and training loop (bench/run/cell.py,
bench/run/train.py), the media stage (bench/run/media_stage.py) for the cells that run one, and every project
module they import at module level, transitively. Imports inside functions do not count: by convention report and
figure code is imported there, and it does not change numbers. What else a record holds is either the resolved
config (its hash names the record's file) or measured (times, the machine), or derived from recorded values by the
report (bench/core/convergence.py reads the recorded curves), so the job that writes the record
(bench/run/job.py) and the config code (bench/core/config.py) are not counted.

What counts of them (scheme 3): their statements, not their paths or layout. The fingerprint hashes the multiset
of top-level statements of those files as syntax trees, without comments, docstrings, imports of project
modules (every project definition they could name is itself in the multiset) and what only type checkers read
(`if TYPE_CHECKING:` blocks, signature annotations, declaration-only Protocol classes), so moving a file or a
definition between files, or editing a comment or a type hint, keeps it; any change to code that runs changes
it. The record also keeps a hash per file, so a report can say which files differ. Records of an earlier
scheme (1: a byte hash per path; 2: statements with type-only code kept) are read by recomputing scheme 3 from
their commit's files in git, after checking that those files are byte for byte the ones the record lists. This
module imports nothing heavy, so the command line can use it before torch is loaded."""
from __future__ import annotations

import ast
import functools
import hashlib
import subprocess
from collections.abc import Callable
from pathlib import Path

PACKAGES = ("base", "bench", "methods", "metrics", "tasks")
ROOT = Path(__file__).resolve().parents[2]  # the directory holding the project's packages
# what every cell runs, whatever its method and suite: today's module first, then its name in earlier layouts (a
# record of an earlier scheme is recomputed from its own commit's files)
CELL_MODULES = (("bench.run.cell", "bench.cell"), ("bench.run.train", "bench.train"))
MEDIA_STAGE = "bench.run.media_stage"  # counted for the cells that run a media stage (media.weights set)
SCHEME = 3


class Tree:
    """The project's files as they are on disk (commit None) or at a git commit."""

    def __init__(self, commit: str | None = None):
        self.files = None if commit is None else committed_files(commit)

    def exists(self, relative: str) -> bool:
        return (ROOT / relative).is_file() if self.files is None else relative in self.files

    def read(self, relative: str) -> bytes:
        return (ROOT / relative).read_bytes() if self.files is None else self.files[relative]


@functools.lru_cache(maxsize=64)
def committed_files(commit: str) -> dict[str, bytes]:
    """Every Python file of the project's packages at a commit, read by one git process (not one per file)."""
    names = [n for n in git("ls-tree", "-r", "--name-only", commit, "--", *PACKAGES).splitlines() if n.endswith(".py")]
    batch = subprocess.run(["git", "cat-file", "--batch"], input="".join(f"{commit}:{n}\n" for n in names).encode(),
                           cwd=ROOT, capture_output=True, check=True, timeout=60).stdout
    files, at = {}, 0
    for name in names:
        header_end = batch.index(b"\n", at)
        size = int(batch[at:header_end].split()[2])
        files[name] = batch[header_end + 1:header_end + 1 + size]
        at = header_end + 1 + size + 1  # the content, then a newline
    return files


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30).stdout


def module_file(name: str, tree: Tree) -> str | None:
    """The source file (relative to the project) of a project module, or None for anything outside it."""
    parts = name.split(".")
    if parts[0] not in PACKAGES:
        return None
    base = "/".join(parts)
    for candidate in (f"{base}.py", f"{base}/__init__.py"):
        if tree.exists(candidate):
            return candidate
    return None


def module_path(name: str) -> Path | None:
    """The source file of a project module on disk, or None for anything outside the project."""
    found = module_file(name, Tree())
    return None if found is None else ROOT / found


def top_level_imports(name: str, path: Path | str, tree: Tree | None = None) -> set[str]:
    """Project modules that `name` imports at module level (not under `if TYPE_CHECKING`, not in functions)."""
    tree = tree or Tree()
    relative = Path(path).relative_to(ROOT).as_posix() if Path(path).is_absolute() else str(path)
    package = name if relative.endswith("__init__.py") else name.rpartition(".")[0]

    def is_module(module: str) -> bool:
        return module_file(module, tree) is not None

    found = {m for node in top_level_nodes(tree.read(relative)) for m in imported_names(node, package, is_module)}
    return {m for m in found if is_module(m)}


@functools.lru_cache(maxsize=1024)
def top_level_nodes(source: bytes) -> tuple[ast.stmt, ...]:
    """A file's top-level statements, parsed once per content (planning a matrix reads each file once per
    method otherwise)."""
    return tuple(ast.parse(source).body)


def imported_names(node: ast.AST, package: str, is_module: Callable[[str], bool]) -> set[str]:
    """The modules an import statement names, relative imports resolved against `package`: `from pkg import
    module` imports the module, `from pkg import name` the package (empty for any other node)."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names}
    if not isinstance(node, ast.ImportFrom):
        return set()
    base = node.module or ""
    if node.level:
        anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return {f"{base}.{alias.name}" if is_module(f"{base}.{alias.name}") else base for alias in node.names}


def source_names(roots: list[str], tree: Tree) -> list[str]:
    """The files (relative) of `roots` and of every project module they import at module level, transitively."""
    seen: dict[str, str] = {}
    todo = [r for r in roots if module_file(r, tree) is not None]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen[name] = module_file(name, tree)
        todo.extend(top_level_imports(name, seen[name], tree) - set(seen))
    return sorted(set(seen.values()))


def source_files(roots: list[str]) -> list[Path]:
    """The files on disk of `roots` and of every project module they import at module level, transitively."""
    return [ROOT / name for name in source_names(roots, Tree())]


def file_hashes(paths: list[Path]) -> dict[str, str]:
    return {p.relative_to(ROOT).as_posix(): byte_hash(p.read_bytes()) for p in paths}


def combine(hashes: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{k} {v}" for k, v in sorted(hashes.items())).encode()).hexdigest()[:12]


class Normalised(ast.NodeTransformer):
    """Drops what does not run: docstrings, imports of project modules, `if TYPE_CHECKING:` blocks, function
    signatures' annotations and declaration-only Protocol classes (their names only help type checkers)."""

    def visit_Import(self, node):
        return None if all(a.name.split(".")[0] in PACKAGES for a in node.names) else node

    def visit_ImportFrom(self, node):
        return None if node.level or (node.module or "").split(".")[0] in PACKAGES else node

    def visit_If(self, node):
        return None if type_checking_block(node) else self.generic_visit(node)

    def visit_ClassDef(self, node):
        return None if declaration_only(node) else self.generic_visit(node)

    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        node.returns = None
        return self.generic_visit(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def generic_visit(self, node):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and body and \
                is_docstring(body[0]):
            node.body = body[1:]
        return super().generic_visit(node)


def is_docstring(node: ast.stmt) -> bool:
    return isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)


def type_checking_block(node: ast.If) -> bool:
    """`if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`) without an else: imports for type checkers only."""
    test = node.test
    name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else None
    return name == "TYPE_CHECKING" and not node.orelse


def declaration_only(node: ast.ClassDef) -> bool:
    """A Protocol class whose body only declares: a docstring, `...`, annotations without values and methods
    whose body is `...` (or a docstring)."""
    if not any((b.id if isinstance(b, ast.Name) else getattr(b, "attr", None)) == "Protocol" for b in node.bases):
        return False

    def declares(stmt: ast.stmt) -> bool:
        if is_docstring(stmt) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)):
            return True
        if isinstance(stmt, ast.AnnAssign):
            return stmt.value is None
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            return all(is_docstring(s) or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant)
                                           and s.value.value is Ellipsis) for s in stmt.body)
        return False

    return all(declares(stmt) for stmt in node.body)


@functools.lru_cache(maxsize=1024)
def statements(source: bytes) -> tuple[str, ...]:
    """A file's top-level statements as syntax trees without positions, comments, docstrings or project imports
    (cached by content: many commits share most files)."""
    tree = Normalised().visit(ast.parse(source))
    return tuple(ast.dump(node, include_attributes=False) for node in tree.body)


def byte_hash(source: bytes) -> str:
    return hashlib.sha256(source).hexdigest()[:12]


def statements_hash(sources: dict[str, bytes]) -> str:
    found = sorted(s for source in sources.values() for s in statements(source))
    return hashlib.sha256("\n".join(found).encode()).hexdigest()[:12]


def cell_modules(tree: Tree) -> list[str]:
    """The cell and training loop's module names in `tree`'s layout."""
    return [next((n for n in names if module_file(n, tree)), names[0]) for names in CELL_MODULES]


def cell_sources(method_module: str, suite_module: str, tree: Tree, media: bool = False) -> dict[str, bytes]:
    """{relative path: bytes} of the files that make one cell's numbers, each read once."""
    roots = [method_module, suite_module, *cell_modules(tree), *([MEDIA_STAGE] if media else [])]
    return {n: tree.read(n) for n in source_names(roots, tree)}


def has_media(config: dict | None) -> bool:
    """Whether a record's resolved config ran a media stage."""
    return bool(((config or {}).get("media") or {}).get("weights"))


def code_fingerprint(method_module: str, suite_module: str, media: bool = False) -> dict[str, object]:
    """{"scheme": 3, "fingerprint": 12 hex digits, "files": {relative path: byte hash}} of the code that makes one
    cell's numbers (`media`: the cell runs a media stage)."""
    sources = cell_sources(method_module, suite_module, Tree(), media)
    return {"scheme": SCHEME, "fingerprint": statements_hash(sources),
            "files": {name: byte_hash(source) for name, source in sources.items()}}


@functools.lru_cache(maxsize=256)
def fingerprint_at(commit: str, method_module: str, suite_module: str, files: tuple[tuple[str, str], ...],
                   media: bool = False) -> str | None:
    """The current scheme's fingerprint of an earlier scheme's record: recomputed from its commit's files in git,
    when the files the record lists are byte for byte that commit's; None when they are not (an uncommitted
    state) or git cannot say."""
    try:
        tree = Tree(commit)
        for name, digest in files:
            if not tree.exists(name) or byte_hash(tree.read(name)) != digest:
                return None
        return statements_hash(cell_sources(method_module, suite_module, tree, media))
    except (subprocess.SubprocessError, OSError, SyntaxError, KeyError, ValueError, IndexError):
        return None


def recorded_fingerprint(code: dict | None, git_state: dict | None, method_module: str, suite_module: str,
                         media: bool = False) -> str | None:
    """The current scheme's fingerprint of the code that made a record, or None when it cannot be known."""
    code = code or {}
    if code.get("scheme") == SCHEME:
        return code.get("fingerprint")
    commit = (git_state or {}).get("commit")
    if not code.get("files") or not commit:
        return None
    return fingerprint_at(commit, method_module, suite_module, tuple(sorted(code["files"].items())), media)


def same_code(code: dict | None, git_state: dict | None, current: dict, method_module: str,
              suite_module: str, media: bool = False) -> bool:
    """Whether a record (its "code" and "git" fields) was made by the code `current` fingerprints."""
    if (code or {}).get("files") and code["files"] == current["files"]:
        return True  # the same bytes, whatever the scheme
    return recorded_fingerprint(code, git_state, method_module, suite_module, media) == current["fingerprint"]


def changed_files(recorded: dict[str, str] | None, current: dict[str, str]) -> list[str]:
    """Files that differ between a record's code and the current code (added, removed or edited)."""
    recorded = recorded or {}
    return sorted(f for f in set(recorded) | set(current) if recorded.get(f) != current.get(f))


def project_fingerprint(extra: tuple[str, ...] = ("bench/profiles",)) -> str:
    """A hash of every project source file (and the profiles): what `bench list` shows depends on all of them."""
    paths = [p for package in PACKAGES for p in (ROOT / package).rglob("*.py")]
    paths += [p for folder in extra for p in (ROOT / folder).glob("*.yaml")]
    return combine(file_hashes(sorted(paths)))
