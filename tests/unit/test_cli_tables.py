"""Tables for people: text is shown as written (never read as rich markup), key columns
are never cut, and a table too wide for the terminal is drawn wider instead."""

from __future__ import annotations

import importlib
import io

import pytest
from rich.console import Console

# The module, not the Typer object that `monitor.cli` exports under the same name.
app = importlib.import_module("monitor.cli.app")


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> io.StringIO:
    buffer = io.StringIO()
    monkeypatch.setattr(app, "out", Console(file=buffer, width=80, highlight=False))
    return buffer


def test_cells_are_text_not_markup(screen: io.StringIO) -> None:
    app.print_table([{"rule": "r", "title": "[update] Zoom [/] [bold]x[/bold]"}],
                    ["rule", "title"])
    assert "[update] Zoom [/] [bold]x[/bold]" in screen.getvalue()


def test_key_columns_stay_whole_when_the_table_is_too_wide(screen: io.StringIO) -> None:
    row = {"id": 12345, "kind": "digest", "rule": "zoom-china-mainland", "recipient":
           "policy-team-chat", "status": "pending", "attempts": 3,
           "created_at": "2026-11-23T08:20:00+00:00", "sent_at": "2026-11-23T08:21:00+00:00",
           "last_error": "timeout: " + "x" * 100}
    app.print_table([row], list(row))
    text = screen.getvalue()
    for whole in ("zoom-china-mainland", "policy-team-chat", "2026-11-23 08:20", "pending"):
        assert whole in text
    assert "…" not in text
    assert max(len(line) for line in text.splitlines()) > 80  # wider, not cut
