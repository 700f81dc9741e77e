"""The `news-monitor` Typer app and what its command modules share.

Commands live in sibling modules (core, rules, alerts, feeds) that register
themselves on `app`; `monitor.cli` imports them all. Registering must stay cheap
(`--help` is a prompt-speed command): heavy libraries (SQLAlchemy, apprise, aiohttp,
feedparser, Jinja2, Alembic) are imported inside the commands that use them;
tests/unit/test_cli_imports.py guards this.
"""

from __future__ import annotations

import csv
import difflib
import gc
import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from monitor import __version__
from monitor.errors import ConfigError, MonitorError
from monitor.redact import log_to_stderr, redact

log = logging.getLogger(__name__)

app = typer.Typer(
    help="news-monitor: watch RSS/Atom feeds, match rules, send explained alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(highlight=False, soft_wrap=True, emoji=False)
err = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)

ConfigOpt = Annotated[
    Path,
    typer.Option(
        "--config",
        "-c",
        envvar="MONITOR_CONFIG",
        help="The YAML config file (env MONITOR_CONFIG).",
    ),
]
DEFAULT_CONFIG = Path("config/monitor.yaml")


class StatusFormat(str, Enum):
    table = "table"
    json = "json"


class MatchFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"
    csv = "csv"


#: Objects allocated between two young-generation collections while a command starts.
#: Start-up creates some 400,000 objects that live as long as the process (modules,
#: classes, pydantic validators, SQLAlchemy tables) and next to no cyclic garbage;
#: at CPython's default of 700 the collector ran ~150 times over them, about a tenth
#: of `status`'s CPU (bench/startup.py). Commands that go on to work restore the
#: default (``started``).
STARTUP_GC_THRESHOLD = 50_000


def main() -> None:
    """Console-script entry point."""
    gc.set_threshold(STARTUP_GC_THRESHOLD, *gc.get_threshold()[1:])
    import monitor.cli  # noqa: F401  (registers every command module)

    try:
        app()
    finally:
        # The interpreter's exit would collect once more over every object (a third
        # of `status`'s CPU on a loaded machine); the process ends, and every file and
        # connection a command opens it closes itself, so nothing waits on that pass.
        gc.freeze()


def started() -> None:
    """A long command (`run`, `once`) has loaded what it needs: what start-up allocated
    is kept out of every later collection, and the collector runs at its default
    pace again for the work that follows."""
    gc.freeze()
    gc.set_threshold(*_DEFAULT_GC_THRESHOLD)


_DEFAULT_GC_THRESHOLD = gc.get_threshold()


def _print_version(value: bool) -> None:
    if value:
        out.print(f"news-monitor {__version__}", markup=False)
        raise typer.Exit()


@app.callback()
def _setup(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True,
                     help="Print the version and exit."),
    ] = False,
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="MONITOR_LOG_LEVEL",
            help="DEBUG, INFO, WARNING... (default: INFO for run, WARNING otherwise)",
        ),
    ] = None,
) -> None:
    log_to_stderr((log_level or "WARNING").upper())
    _state["log_level_set"] = log_level is not None


_state: dict[str, Any] = {}


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(redact(message))}", markup=True)
    return typer.Exit(code)


def load(config: Path, *, check_recipients: bool = False, queries: bool = True) -> Any:
    """Load and validate settings, or print every problem and exit 1.

    ``check_recipients``: also ask apprise about every recipient URL (the commands
    that send: a URL apprise cannot use is a config error at its line and column).
    ``queries=False``: leave the rules' queries uncompiled (commands that only read).
    """
    from monitor.config import load_settings

    try:
        return load_settings(config, url_check=apprise_refusal if check_recipients else None,
                             queries=queries)
    except ConfigError as e:
        report_problems(config, e.problems)
        raise typer.Exit(1) from None


def report_problems(config: Path, problems: Iterable[str]) -> None:
    err.print(f"[red]{config}: invalid configuration[/red]", markup=True)
    for problem in problems:
        err.print(redact(problem), markup=False)


def open_monitor(config: Path, *, wait_for_database: bool = False) -> Any:
    from monitor.feeds.fetch import import_client_soon

    settings = load(config, check_recipients=True)
    if settings.feeds:  # it polls next: aiohttp's import beside the store's
        import_client_soon()
    from monitor.service import Monitor

    for warning in settings.warnings:
        log.warning("config.warning %s", warning)
    try:
        monitor = Monitor.from_settings(settings, wait_for_database=wait_for_database)
    except ConfigError as e:
        for problem in e.problems:
            err.print(redact(problem), markup=False)
        raise typer.Exit(1) from None
    except MonitorError as e:
        raise fail(str(e)) from None
    started()
    return monitor


def apprise_refusal(url: str) -> str | None:
    """Why apprise cannot use ``url``, in its own words, or None when it can."""
    from monitor.alerts.urlcheck import refusal

    return refusal(url)


def open_store(config: Path) -> Any:
    """The store of the config's database (migrated), or print why not and exit 1."""
    return open_database(database_url(config))


def database_url(config: Path) -> str:
    """The database of the commands that need only it (see load_for_database)."""
    return load_for_database(config)[1]


def load_for_database(config: Path) -> tuple[Any, str]:
    """(settings or None, database URL) for the commands that read the database.

    With no file at the default path and MONITOR_DATABASE_URL set, there are no
    settings: the variable alone names the database.
    """
    from monitor.config import DATABASE_ENV

    from_env = os.environ.get(DATABASE_ENV, "").strip()
    if from_env and config == DEFAULT_CONFIG and not config.exists():
        return None, from_env
    # They read what was stored: the rule compiler (and a typo in a query) is for
    # `check` and the commands that match.
    settings = load(config, queries=False)
    return settings, str(settings.database)


def open_database(url: str) -> Any:
    from monitor.store.repo import Store

    try:
        return Store.open(url)
    except MonitorError as e:
        raise fail(str(e)) from None


def since_cutoff(since: str) -> datetime | None:
    """`--since 7d` as an aware UTC datetime (`all`: None, no limit, as the API's
    ``since=all``), or print why not and exit 1."""
    from monitor.config import parse_duration

    if since.strip().lower() == "all":
        return None
    try:
        return datetime.now(UTC) - timedelta(seconds=parse_duration(since))
    except ValueError as e:
        raise fail(f"--since: {e}") from None


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def write_rows(
    rows: list[dict[str, Any]], fmt: str, table_columns: list[str],
    csv_columns: list[str] | None = None,
) -> None:
    """Rows as jsonl, csv (header from ``csv_columns``, so it is whole with no rows) or a
    table followed by each row's snippet."""
    if fmt == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        columns = csv_columns or (list(rows[0]) if rows else [])
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
    else:
        print_table(rows, table_columns)
        for row in rows:
            if row.get("snippet"):
                out.print(f"[bold]{escape(row['rule'])}[/bold] · {escape(row['title'])}",
                          markup=True)
                out.print(f"  {row['snippet']}", markup=False)


def csv_cell(value: Any) -> Any:
    """Lists as `a; b`; evidence items as `term field:start-end`."""
    if not isinstance(value, list):
        return value
    return "; ".join(
        f"{v['term']} {v['field']}:{v['start']}-{v['end']}" if isinstance(v, dict) else str(v)
        for v in value
    )


#: Columns a user reads or copies whole (names, ids, states, times): never wrapped or cut.
KEY_COLUMNS = frozenset({
    "id", "kind", "rule", "recipient", "status", "attempts", "name", "next_poll", "articles",
    "published", "matched_at", "created_at", "sent_at", "last_polled_at",
})
#: Other columns fold long words onto the next line but keep at least this width.
_TEXT_MIN_WIDTH = 12
_ISO_UTC = re.compile(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d)(:\d\d)?\+00:00$")


def print_table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    """A table whose key columns are never shrunk to `china…`; long text folds. When
    the key columns alone do not fit the terminal, the table is drawn wider than it."""
    from rich.cells import cell_len
    from rich.table import Table
    from rich.text import Text

    cells = [[cell(row.get(c)) for c in columns] for row in rows]
    if not cells:
        out.print("(nothing)")
        return
    table = Table(show_lines=False)
    needed = 1
    for i, name in enumerate(columns):
        longest = max(cell_len(name), *(cell_len(line) for r in cells
                                         for line in r[i].splitlines() or [""]))
        key = name in KEY_COLUMNS
        width = longest if key else min(longest, _TEXT_MIN_WIDTH)
        table.add_column(name, no_wrap=key, min_width=width, overflow="fold")
        needed += width + 3  # padding and border
    for r in cells:
        table.add_row(*(Text(c) for c in r))  # Text: a title like "[update]" is not markup
    # Console.print(width=) can only narrow; a wider table needs a wider console.
    console = out if needed <= out.width else Console(
        file=out.file, width=needed, highlight=False, soft_wrap=True, emoji=False)
    console.print(table)


def cell(value: Any) -> str:
    """A table cell: '-' for nothing, lists joined, UTC timestamps to the minute."""
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    text = str(value)
    short = _ISO_UTC.match(text)
    return f"{short[1]} {short[2]}" if short else text


if __name__ == "__main__":  # pragma: no cover
    main()


def plural(n: int, noun: str) -> str:
    """``1 feed``, ``2 feeds``, ``2 new matches``."""
    if n == 1:
        return f"{n} {noun}"
    return f"{n} {noun}es" if noun.endswith(("ch", "sh", "s", "x")) else f"{n} {noun}s"


def refuse_unknown_rule(rule: str, settings: Any, store: Any) -> None:
    """Exit 2 with the closest names when ``rule`` is neither configured nor ever matched
    (a typo in ``--rule`` must not look like "nothing matched")."""
    known = {r.name for r in settings.rules} if settings else set()
    if rule in known:
        return
    known |= store.matched_rules()
    if rule not in known:
        close = difflib.get_close_matches(rule, sorted(known), n=3, cutoff=0.6)
        hint = (f"; did you mean {' or '.join(repr(c) for c in close)}?" if close
                else f" (rules: {', '.join(sorted(known)) or 'none'})")
        raise fail(f"unknown rule '{rule}': not in the config and never matched{hint}", 2)
