"""The names a command line gives — methods, suites, profiles — known without importing what they name: methods and
suites are read from the syntax trees of their packages (each `@METHODS.register("name")` or
`@SUITES.register("name")`, in the order the package imports them, which is the registries' order), profiles are
files. So a misspelt name is refused in one line before torch is imported (the registries fill only when their
modules are imported, which takes seconds). tests/bench/core/test_names.py holds these lists to the registries."""
from __future__ import annotations

import ast
import functools
from pathlib import Path

from bench.core.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ("smoke", "cpu", "cpu_wide", "cpu_long", "paper")  # bench/profiles/<name>.yaml
SECTIONS = ("model", "flow", "train", "eval", "media")  # the config's common sections (bench/core/config.py)


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
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        for decorator in getattr(node, "decorator_list", []):
            if (isinstance(decorator, ast.Call) and isinstance(decorator.func, ast.Attribute)
                    and decorator.func.attr == "register" and isinstance(decorator.func.value, ast.Name)
                    and decorator.func.value.id == registry and decorator.args
                    and isinstance(decorator.args[0], ast.Constant)):
                found.append(decorator.args[0].value)
    return found


@functools.cache
def registered(package: str, registry: str) -> tuple[str, ...]:
    return tuple(name for path in imported_in_order(package) for name in decorated(path, registry))


def methods() -> tuple[str, ...]:
    return registered("methods", "METHODS")


def suites() -> tuple[str, ...]:
    return registered("tasks", "SUITES")


def unknown(kind: str, name: str, available: tuple[str, ...]) -> UsageError:
    """The registries' own message for a name they lack."""
    return UsageError(f"unknown {kind} '{name}'; available: {', '.join(available)}")


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
    """Refuse an unknown method, suite, profile or --set section, as the registries and the config would, before
    anything heavy is imported."""
    if suite is not None and suite not in suites():
        raise unknown("suite", suite, suites())
    if profile is not None and profile not in PROFILES:
        raise unknown("profile", profile, PROFILES)
    for name in methods_given if isinstance(methods_given, list) else []:
        if name not in methods():
            raise unknown("method", name, methods())
    for item in overrides:
        set_item(item)
