"""Layering: a module never imports from a layer above it (STYLE.md, HELPERS.md).

Read from the source (every import statement, lazy ones inside functions too), so a
violation fails here before it is a cycle at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitor"

# Each package and what it must never import.
FORBIDDEN = [
    ("config", ("monitor.feeds", "monitor.store", "monitor.service", "monitor.cli")),
]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize(("package", "forbidden"), FORBIDDEN, ids=[p for p, _ in FORBIDDEN])
def test_package_imports_no_layer_above_it(package: str, forbidden: tuple[str, ...]) -> None:
    files = sorted((PACKAGE / package).rglob("*.py"))
    assert files
    wrong = [f"{path.relative_to(PACKAGE)} imports {name}"
             for path in files for name in sorted(imported_modules(path))
             if any(name == f or name.startswith(f + ".") for f in forbidden)]
    assert wrong == []
