"""Layering: a module never imports from a layer above it (STYLE.md, HELPERS.md).

Read from the source (every import statement, lazy ones inside functions too, relative
ones resolved), so a violation fails here before it is a cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitor"

#: Package -> the monitor packages (and everything below them) it must never import.
FORBIDDEN = {
    "config": ("monitor.feeds", "monitor.store", "monitor.service", "monitor.cli"),
    "rules": ("monitor.store", "monitor.alerts", "monitor.feeds", "monitor.cli",
              "monitor.service"),
    "store": ("monitor.alerts", "monitor.config", "monitor.feeds", "monitor.cli",
              "monitor.service"),
}


def _module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, root: Path = PACKAGE) -> set[str]:
    """Every module that path (a file of the package at root) imports, by absolute name."""
    package = _module_name(path, root).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            # `from . import x` and `from monitor import alerts` import a module each.
            names.update(f"{module}.{alias.name}" for alias in node.names)
            names.add(module)
    return names


def is_under(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == f or name.startswith(f + ".") for f in forbidden)


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_no_layer_above_it(package: str) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files  # a renamed package would otherwise pass unchecked
    wrong = [f"{path.relative_to(PACKAGE.parent)} imports {name}"
             for path in files for name in sorted(imported_modules(path))
             if is_under(name, FORBIDDEN[package])]
    assert wrong == []


@pytest.mark.parametrize(("source", "module", "expected"), [
    # absolute, lazy inside a function, and relative imports are all seen
    ("import monitor.alerts.render\n", "store/repo.py", "monitor.alerts.render"),
    ("def f():\n    from monitor.alerts import render\n", "store/repo.py", "monitor.alerts"),
    ("from ..alerts import render\n", "store/repo.py", "monitor.alerts"),
    ("from .. import alerts\n", "store/repo.py", "monitor.alerts"),
    ("from . import repo\n", "store/__init__.py", "monitor.store.repo"),
    ("from monitor import service\n", "config/load.py", "monitor.service"),
])
def test_imported_modules_sees_every_form_of_import(
    tmp_path: Path, source: str, module: str, expected: str
) -> None:
    root = tmp_path / "monitor"
    path = root / module
    path.parent.mkdir(parents=True)
    path.write_text(source, encoding="utf-8")
    assert expected in imported_modules(path, root)
