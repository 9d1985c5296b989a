"""The names a command line gives — methods, suites, profiles, `--set` sections and their keys, method options —
known without importing what they name: methods and suites are read from the syntax trees of their packages (each
`@METHODS.register("name")` or `@SUITES.register("name")`, in the order the package imports them, which is the
registries' order), a section's keys from the fields of its dataclass's syntax tree, profiles are files. So a
misspelt name is refused in one line before torch is imported (the registries fill only when their modules are
imported, which takes seconds). tests/bench/core/test_names.py holds these lists to the registries and the
config's dataclasses."""
from __future__ import annotations

import ast
import difflib
import functools
from pathlib import Path

from bench.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("smoke", "cpu", "cpu_wide", "cpu_long", "paper")  # bench/profiles/<name>.yaml
SECTIONS = ("model", "flow", "train", "eval", "media")  # the config's common sections (bench/core/config.py)
SECTION_CLASSES = {"model": ("methods/backbone/config.py", "ModelConfig"),
                   "flow": ("methods/backbone/config.py", "FlowConfig"),
                   "train": ("bench/core/config.py", "TrainConfig"), "eval": ("tasks/base.py", "EvalConfig"),
                   "media": ("bench/core/config.py", "MediaConfig")}


def imported_in_order(package: str) -> list[Path]:
    """The files of the package's submodules in the order its __init__ imports them (a subpackage: its files)."""
    folder = ROOT / package
    tree = ast.parse((folder / "__init__.py").read_text())
    names = [alias.name for node in tree.body if isinstance(node, ast.ImportFrom) and node.module == package
             for alias in node.names]
    files = []
    for name in names:
        if (folder / f"{name}.py").is_file():
            files.append(folder / f"{name}.py")
        elif (folder / name).is_dir():
            files.extend(sorted((folder / name).glob("*.py")))
    return files


def decorated(path: Path, registry: str) -> list[str]:
    """The names a file registers with `@<registry>.register("name")`."""
    return [name for node in ast.walk(ast.parse(path.read_text())) for name in decorated_names(node, registry)]


@functools.cache
def registered(package: str, registry: str) -> tuple[str, ...]:
    return tuple(name for path in imported_in_order(package) for name in decorated(path, registry))


def methods() -> tuple[str, ...]:
    return registered("methods", "METHODS")


def suites() -> tuple[str, ...]:
    return registered("tasks", "SUITES")


def class_node(tree: ast.Module, name: str) -> ast.ClassDef | None:
    return next((node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name), None)


def dataclass_fields(path: Path, name: str) -> tuple[str, ...] | None:
    """The fields of the dataclass `name` defined in `path`, in order; None where they cannot be read without
    importing (a base class, or no such class)."""
    node = class_node(ast.parse(path.read_text()), name)
    if node is None or node.bases:
        return None
    return tuple(stmt.target.id for stmt in node.body if isinstance(stmt, ast.AnnAssign)
                 and isinstance(stmt.target, ast.Name) and "ClassVar" not in ast.unparse(stmt.annotation))


def attached_class(path: Path, registry: str, registered_as: str, attribute: str) -> tuple[Path, str] | None:
    """Where the class a registered class attaches as `attribute` (`Options = MuniOptions`, `DataConfig =
    gm.GaussianMixtureData`) is defined: (file, class name); None where that takes importing to know."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and registered_as in decorated_names(node, registry):
            value = next((stmt.value for stmt in node.body if isinstance(stmt, ast.Assign)
                          and any(isinstance(t, ast.Name) and t.id == attribute for t in stmt.targets)), None)
            if isinstance(value, ast.Name):
                return path, value.id
            if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name):
                module = imported_module(tree, value.value.id)
                return (ROOT / (module.replace(".", "/") + ".py"), value.attr) if module else None
    return None


def decorated_names(node: ast.AST, registry: str) -> list[str]:
    """The names one definition registers with `@<registry>.register("name")`."""
    return [d.args[0].value for d in getattr(node, "decorator_list", []) if isinstance(d, ast.Call)
            and isinstance(d.func, ast.Attribute) and d.func.attr == "register" and isinstance(d.func.value, ast.Name)
            and d.func.value.id == registry and d.args and isinstance(d.args[0], ast.Constant)]


def imported_module(tree: ast.Module, alias: str) -> str | None:
    """The module a file imports under `alias` (`from tasks.gaussian_mixture import data as gm` -> its path)."""
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for name in node.names:
                if (name.asname or name.name) == alias:
                    return f"{node.module}.{name.name}"
        if isinstance(node, ast.Import):
            for name in node.names:
                if name.asname == alias:
                    return name.name
    return None


def section_keys(section: str, suite: str | None) -> tuple[str, ...] | None:
    """The keys `--set <section>.` takes: a common section's, the suite's data's, or a method's options; None
    where they cannot be read without importing."""
    if section in SECTION_CLASSES:
        path, name = SECTION_CLASSES[section]
        return dataclass_fields(ROOT / path, name)
    package, registry, attribute, named = (("tasks", "SUITES", "DataConfig", suite) if section == "data" else
                                           ("methods", "METHODS", "Options", section))
    for path in imported_in_order(package):
        if named in decorated(path, registry):
            found = attached_class(path, registry, named, attribute)
            return dataclass_fields(*found) if found and found[0].is_file() else None
    return None


def unknown(kind: str, name: str, available: tuple[str, ...]) -> UsageError:
    """The registries' own message for a name they lack."""
    return UsageError(f"unknown {kind} '{name}'; available: {', '.join(available)}")


def unknown_key(section: str, name: str, valid: tuple[str, ...]) -> UsageError:
    """The config's own message for a key its section lacks (bench/core/config.py: unknown_key)."""
    close = difflib.get_close_matches(name, valid, n=1)
    hint = f"did you mean {section}.{close[0]}? " if close else ""
    return UsageError(f"{section}.{name} is not a setting; {hint}valid keys in {section}: {', '.join(valid)}")


def set_item(item: str) -> tuple[str, str, str]:
    """'train.steps=2000' -> ('train', 'steps', '2000'); a malformed item or an unknown section is refused in one
    line (sections are 'data', the common ones and the methods)."""
    key, sep, value = item.partition("=")
    section, dot, name = key.strip().partition(".")
    if not sep or not dot or not name:
        raise UsageError(f"--set expects section.field=value (e.g. train.steps=2000), got '{item}'")
    valid = ("data", *SECTIONS, *methods())
    if section not in valid:
        raise UsageError(f"--set {key}: unknown section '{section}'; available: {', '.join(valid)}")
    return section, name, value


def check_names(methods_given: list[str] | str | None, suite: str | None, profile: str | None,
                overrides: list[str] = ()) -> None:
    """Refuse an unknown method, suite, profile, --set section or key, as the registries and the config would,
    before anything heavy is imported."""
    if suite is not None and suite not in suites():
        raise unknown("suite", suite, suites())
    if profile is not None and profile not in PROFILES:
        raise unknown("profile", profile, PROFILES)
    for name in methods_given if isinstance(methods_given, list) else []:
        if name not in methods():
            raise unknown("method", name, methods())
    for item in overrides:
        section, name, _ = set_item(item)
        valid = section_keys(section, suite)
        if valid is not None and name not in valid:
            raise unknown_key(section, name, valid)
