"""The `news-monitor` command line (Typer)."""

from __future__ import annotations

import asyncio
import csv
import json
import logging
import sys
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from monitor import __version__
from monitor.errors import ConfigError, MonitorError
from monitor.redact import RedactingFilter, redact

app = typer.Typer(
    help="news-monitor: watch RSS/Atom feeds, match rules, send explained alerts.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database maintenance.", no_args_is_help=True)
app.add_typer(db_app, name="db")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)

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


def main() -> None:
    """Console-script entry point."""
    app()


@app.callback()
def _setup(
    log_level: Annotated[
        str | None,
        typer.Option(
            "--log-level",
            envvar="MONITOR_LOG_LEVEL",
            help="DEBUG, INFO, WARNING... (default: INFO for run, WARNING otherwise)",
        ),
    ] = None,
) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    handler.addFilter(RedactingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel((log_level or "WARNING").upper())
    _state["log_level_set"] = log_level is not None


_state: dict[str, Any] = {}


def fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {redact(message)}", markup=True)
    return typer.Exit(code)


def load(config: Path) -> Any:
    """Load and validate settings, or print every problem and exit 1."""
    from monitor.config import load_settings

    try:
        return load_settings(config)
    except ConfigError as e:
        err.print(f"[red]{config}: invalid configuration[/red]", markup=True)
        for problem in e.problems:
            err.print(redact(problem), markup=False)
        raise typer.Exit(1) from None


def open_monitor(config: Path) -> Any:
    from monitor.service import Monitor

    settings = load(config)
    try:
        return Monitor.from_settings(settings)
    except ConfigError as e:
        for problem in e.problems:
            err.print(redact(problem), markup=False)
        raise typer.Exit(1) from None
    except MonitorError as e:
        raise fail(str(e)) from None


@app.command()
def run(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Run the daemon: poll due feeds, match, deliver; stop cleanly on SIGINT/SIGTERM."""
    if not _state.get("log_level_set"):
        logging.getLogger().setLevel(logging.INFO)
    monitor = open_monitor(config)
    err.print(
        f"news-monitor {__version__}: watching {len(monitor.settings.feeds)} feeds "
        f"with {len(monitor.settings.rules)} rules (Ctrl-C to stop)"
    )
    try:
        asyncio.run(monitor.run_forever())
    finally:
        monitor.close()


@app.command()
def once(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """One full cycle over ALL feeds (due or not), match, deliver, exit."""
    monitor = open_monitor(config)
    try:
        poll, delivery = asyncio.run(monitor.run_once())
    finally:
        monitor.close()
    for url, error in poll.errors.items():
        err.print(f"feed failed: {redact(url)}: {redact(error)}", markup=False)
    err.print(
        f"{poll.feeds} feeds polled ({poll.failed} failed, {poll.not_modified} unchanged), "
        f"{poll.new_articles} new articles, {poll.new_matches} new matches; "
        f"alerts sent {delivery.sent}, failed {delivery.failed}, dead {delivery.dead}"
    )


@app.command()
def check(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Validate the config, compile every rule, parse every apprise URL; send nothing."""
    from monitor.alerts.deliver import Notifier
    from monitor.rules.compile import compile_rules

    settings = load(config)
    problems: list[str] = []
    try:
        rules = compile_rules(settings.rule_specs(), settings.entity_aliases())
    except ConfigError as e:
        problems.extend(e.problems)
        rules = None
    problems.extend(Notifier(settings.recipients).problems())
    for problem in problems:
        err.print(redact(problem), markup=False)
    if problems:
        raise typer.Exit(1)
    for name in rules.unindexed_rules if rules else ():
        err.print(f"note: rule '{name}' has no literal term; it is evaluated for every article")
    out.print(
        f"{config}: OK ({len(settings.feeds)} feeds, {len(settings.rules)} rules, "
        f"{len(settings.recipients)} recipients)"
    )


@app.command()
def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    format: Annotated[StatusFormat, typer.Option("--format", "-f")] = StatusFormat.table,
) -> None:
    """Per feed: last status, last error, error count, stored articles, last poll."""
    store = open_store(config)
    try:
        rows = [
            {
                "url": redact(s.url),
                "name": s.name,
                "last_status": s.last_status,
                "last_error": redact(s.last_error) if s.last_error else None,
                "error_count": s.error_count,
                "articles": s.articles,
                "last_polled_at": iso(s.last_polled_at),
                "next_poll_at": iso(s.next_poll_at),
                "active": s.active,
            }
            for s in store.feed_statuses()
        ]
    finally:
        store.close()
    if format is StatusFormat.json:
        out.print_json(data=rows) if sys.stdout.isatty() else print(json.dumps(rows, indent=2))
        return
    print_table(
        rows,
        ["name", "url", "last_status", "error_count", "articles", "last_polled_at", "last_error"],
    )


@app.command()
def matches(
    config: ConfigOpt = DEFAULT_CONFIG,
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Only this rule.")] = None,
    since: Annotated[
        str, typer.Option(help="Only matches newer than this (90s, 15m, 2h, 7d).")
    ] = "7d",
    format: Annotated[MatchFormat, typer.Option("--format", "-f")] = MatchFormat.table,
) -> None:
    """Stored matches with their evidence, newest first."""
    from monitor.config import parse_duration

    try:
        cutoff = datetime.now(UTC) - timedelta(seconds=parse_duration(since))
    except ValueError as e:
        raise fail(f"--since: {e}") from None
    store = open_store(config)
    try:
        rows = [match_row(m) for m in store.list_matches(rule=rule, since=cutoff)]
    finally:
        store.close()
    write_rows(rows, format.value, ["rule", "title", "feed", "published", "terms", "url"])


def match_row(m: Any) -> dict[str, Any]:
    return {
        "rule": m.rule,
        "title": m.title,
        "url": m.url,
        "feed": m.feed,
        "published": iso(m.published),
        "matched_at": iso(m.matched_at),
        "terms": list(m.terms),
        "snippet": m.snippet,
    }


@app.command("notify-test")
def notify_test(
    recipient: Annotated[str, typer.Argument(help="A recipient name from the config.")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Send a test message to every target of one recipient."""
    from monitor.alerts.deliver import Notifier
    from monitor.alerts.render import render_test_message
    from monitor.errors import DeliveryError

    settings = load(config)
    if recipient not in settings.recipients:
        known = ", ".join(sorted(settings.recipients)) or "none"
        raise fail(f"unknown recipient '{recipient}' (configured: {known})")
    notifier = Notifier(settings.recipients)
    message = render_test_message(recipient)
    failed = 0
    for i, route in enumerate(notifier.routes_for([recipient])):
        try:
            notifier.send_rendered(route, message)
            out.print(f"{recipient}[{i}]: sent")
        except DeliveryError as e:
            failed += 1
            err.print(f"{recipient}[{i}]: failed: {redact(str(e))}", markup=False)
    if failed:
        raise typer.Exit(1)


@app.command()
def demo(
    keep: Annotated[Path | None, typer.Option(help="Keep the demo database at this path.")] = None,
) -> None:
    """Offline demo: serve bundled sample feeds locally, run one cycle, show alerts and matches."""
    from monitor.demo import run_demo

    try:
        rows = run_demo(keep)
    except MonitorError as e:
        raise fail(str(e)) from None
    out.rule("Stored matches")
    write_rows([match_row(m) for m in rows], "table", ["rule", "title", "feed", "terms"])
    out.print(
        f"\n{len(rows)} matches. Next: edit config/example.yaml and run "
        "`news-monitor once -c config/example.yaml`."
    )


@db_app.command("upgrade")
def db_upgrade(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Apply pending database migrations (they also run at every start)."""
    from monitor.store.db import upgrade

    settings = load(config)
    try:
        upgrade(settings.database)
    except MonitorError as e:
        raise fail(str(e)) from None
    out.print(f"database at head: {redact(settings.database)}")


# -- helpers -----------------------------------------------------------------


def open_store(config: Path) -> Any:
    from monitor.store.repo import Store

    settings = load(config)
    try:
        return Store.open(settings.database)
    except MonitorError as e:
        raise fail(str(e)) from None


def iso(value: datetime | None) -> str | None:
    return value.isoformat(timespec="seconds") if value else None


def write_rows(rows: list[dict[str, Any]], fmt: str, table_columns: list[str]) -> None:
    if fmt == "jsonl":
        for row in rows:
            sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    elif fmt == "csv":
        columns = (
            list(rows[0])
            if rows
            else ["rule", "title", "url", "feed", "published", "matched_at", "terms", "snippet"]
        )
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "; ".join(v) if isinstance(v, list) else v for k, v in row.items()})
    else:
        print_table(rows, table_columns)
        for row in rows:
            if row.get("snippet"):
                out.print(f"[bold]{row['rule']}[/bold] · {row['title']}", markup=True)
                out.print(f"  {row['snippet']}", markup=False)


def print_table(rows: Iterable[dict[str, Any]], columns: list[str]) -> None:
    table = Table(*columns, show_lines=False)
    count = 0
    for row in rows:
        count += 1
        table.add_row(*(cell(row.get(c)) for c in columns))
    if count:
        out.print(table)
    else:
        out.print("(nothing)")


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


if __name__ == "__main__":  # pragma: no cover
    main()
