"""Property-based fuzz tests (hypothesis): every input yields a result or one of our
own errors, never another exception. Each file names the entry point it fuzzes;
fuzzkit.py says how many examples a run tries."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.fuzz)
