"""`news-monitor alerts list|retry`: see and act on the outbox.

Nothing is dropped silently: an alert that failed for the last time is ``dead``
with its (redacted) last error, and an operator can list and retry it.
"""

from __future__ import annotations

import json
import sys
from enum import Enum
from typing import Annotated, Any

import typer

from monitor.cli.app import DEFAULT_CONFIG, ConfigOpt, app, fail, iso, open_store, out, print_table
from monitor.redact import redact
from monitor.store import ALERT_STATUSES

alerts_app = typer.Typer(help="The alert outbox: list and retry.", no_args_is_help=True)
app.add_typer(alerts_app, name="alerts")

#: The keys of ``alerts list --format jsonl`` (a stable interface for scripts).
JSONL_KEYS = ("id", "kind", "rule", "recipient", "status", "attempts", "last_error",
              "created_at", "sent_at", "title", "url")


class AlertFormat(str, Enum):
    table = "table"
    jsonl = "jsonl"


@alerts_app.command("list")
def list_alerts(
    config: ConfigOpt = DEFAULT_CONFIG,
    status: Annotated[str | None, typer.Option(
        "--status", help=f"Only alerts with this status: {', '.join(ALERT_STATUSES)}.")] = None,
    fmt: Annotated[AlertFormat, typer.Option("--format", "-f", help="table or jsonl.")] = (
        AlertFormat.table),
) -> None:
    """Outbox rows, newest first: who, what, how often tried, the last error."""
    if status is not None and status not in ALERT_STATUSES:
        raise fail(f"unknown status '{status}': use one of {', '.join(ALERT_STATUSES)}", 2)
    store = open_store(config)
    try:
        records = store.list_alerts(status=status)
    finally:
        store.close()
    rows = [_row(r) for r in records]
    if fmt is AlertFormat.jsonl:
        for row in rows:
            sys.stdout.write(json.dumps({k: row[k] for k in JSONL_KEYS}, ensure_ascii=False) + "\n")
        return
    # The article's title says which alert a row is (a digest row has none: "-").
    print_table(rows, ["id", "kind", "rule", "recipient", "status", "attempts", "created_at",
                       "sent_at", "title", "last_error"])


def _row(r: Any) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "rule": r.rule, "recipient": r.recipient,
            "status": r.status, "attempts": r.attempts,
            "last_error": redact(r.last_error) if r.last_error else None,
            "created_at": iso(r.created_at), "sent_at": iso(r.sent_at),
            "title": r.title, "url": r.url}


@alerts_app.command("retry")
def retry_alerts(
    config: ConfigOpt = DEFAULT_CONFIG,
    alert_id: Annotated[list[int] | None, typer.Option(
        "--id", help="Retry this alert (failed or dead); repeatable.")] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Retry every dead alert.")] = False,
) -> None:
    """Make alerts due again now; the running daemon sends them on its next tick."""
    from monitor.service import utcnow

    if bool(alert_id) == dead:
        raise fail("give either --id N (repeatable) or --dead", 2)
    store = open_store(config)
    try:
        if alert_id:
            known = store.alert_statuses(alert_id)
            unknown = sorted(set(alert_id) - set(known))
            if unknown:
                raise fail(f"no alert with id {', '.join(map(str, unknown))} "
                           "(see `news-monitor alerts list`)", 2)
        count = store.revive_alerts(utcnow(), alert_ids=alert_id if alert_id else None)
    finally:
        store.close()
    out.print(f"{count} alert{'s' if count != 1 else ''} queued for retry", markup=False)
    if alert_id and count < len(set(alert_id)):
        final = ", ".join(f"{i} is {known[i]}" for i in sorted(set(alert_id))
                          if known[i] not in ("failed", "dead"))
        raise fail(f"only failed or dead alerts can be retried: {final}", 1)
