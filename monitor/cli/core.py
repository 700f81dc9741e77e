"""The core commands: run, once, check, status, matches, notify-test, demo, db upgrade/prune."""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from monitor import __version__
from monitor.cli.app import (
    DEFAULT_CONFIG,
    ConfigOpt,
    MatchFormat,
    StatusFormat,
    _state,
    app,
    apprise_refusal,
    db_app,
    err,
    fail,
    iso,
    load,
    load_for_database,
    open_database,
    open_monitor,
    out,
    plural,
    print_table,
    refuse_unknown_rule,
    report_problems,
    since_cutoff,
    write_rows,
)
from monitor.errors import MonitorError
from monitor.redact import mask_url, redact


@app.command()
def run(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Run the daemon: poll due feeds, match, deliver; stop cleanly on SIGINT/SIGTERM.

    SIGHUP re-reads the config and swaps in the new feeds, rules and recipients; an
    invalid file is logged and the running configuration kept.
    """
    import asyncio

    from monitor.config import load_settings

    if not _state.get("log_level_set"):
        logging.getLogger().setLevel(logging.INFO)
    monitor = open_monitor(config, wait_for_database=True)  # a database restarting too
    # Checked as at start: a recipient URL apprise cannot use refuses the reload.
    monitor.reloader = lambda: load_settings(config, url_check=apprise_refusal)
    err.print(
        f"news-monitor {__version__}: watching {plural(len(monitor.settings.feeds), 'feed')} "
        f"with {plural(len(monitor.settings.rules), 'rule')} (Ctrl-C to stop)"
    )
    try:
        if monitor.settings.http is not None:
            from monitor.web.serve import run_with_web  # the web stack only when configured

            err.print(f"dashboard and API on http://{monitor.settings.http.listen}/")
            asyncio.run(run_with_web(monitor))
        else:
            asyncio.run(monitor.run_forever())
    except MonitorError as e:
        raise fail(str(e)) from None
    finally:
        monitor.close()


@app.command()
def once(
    config: ConfigOpt = DEFAULT_CONFIG,
    max_time: Annotated[
        str, typer.Option("--max-time", help="Stop delivering after this long (90s, 10m, 1h); "
                          "what is left is counted and sent by the next run.")
    ] = "10m",
) -> None:
    """One full cycle over ALL feeds (due or not), match, then deliver every due alert.

    Ctrl-C (or SIGTERM) stops it and releases its feeds, so the next run polls them all.
    WebSub: `once` never subscribes to hubs (a one-shot process cannot receive their
    callbacks); it polls every feed and records the hubs it finds for the daemon.
    """
    import asyncio

    from monitor.config import parse_duration
    from monitor.errors import Interrupted

    try:
        budget = parse_duration(max_time)
    except ValueError as e:
        raise fail(f"--max-time: {e}") from None
    monitor = open_monitor(config)
    try:
        poll, delivery = asyncio.run(monitor.run_once(max_time_s=budget,
                                                          delivery_process=True))
    except Interrupted as e:
        raise fail(f"{e}: stopped; feeds and alerts it held are released", code=130) from None
    except MonitorError as e:  # the database went away: its reason, not a traceback
        raise fail(f"{e}; the next run polls what this one could not store") from None
    finally:
        monitor.close()
    shown = {f.url: mask_url(f.shown_url) for f in monitor.settings.feeds}
    for url, error in poll.errors.items():
        err.print(f"feed failed: {shown.get(url) or redact(url)}: {redact(error)}", markup=False)
    if poll.deferred:
        err.print(f"{plural(poll.deferred, 'feed')} fetched but not stored: the database was "
                  "unavailable; the next run polls them again", markup=False)
    for lease in poll.held:
        err.print(f"feed skipped: {redact(lease.url)}: held by {lease.owner} until "
                  f"{iso(lease.until)} (another run is polling it, or it died)", markup=False)
    err.print(
        f"{plural(poll.feeds, 'feed')} polled ({poll.failed} failed, {poll.not_modified} "
        f"unchanged), {plural(poll.new_articles, 'new article')}, "
        f"{plural(poll.new_matches, 'new match')}; "
        f"alerts sent {delivery.sent}, failed {delivery.failed}, dead {delivery.dead}"
    )
    if poll.unread_pages:
        failed = sum(n for (status, _), n in poll.unread_pages.items() if status == "failed")
        retry = poll.unread_pages.total() - failed
        reasons = ", ".join(f"{error} ({n})" for (_, error), n in
                            sorted(poll.unread_pages.items(), key=lambda x: -x[1])[:3])
        err.print(f"{plural(failed + retry, 'article page')} not read ({failed} failed, "
                  f"{retry} to retry in a later run): {redact(reasons)}; those items were "
                  "matched on the feed's text alone; `news-monitor status` shows each "
                  "feed's page failures", markup=False)
    if delivery.held:
        err.print(f"{plural(delivery.held, 'alert')} held for a digest (mode: digest, quiet "
                  "hours or max_per_hour): sent when its window ends, by the daemon or a "
                  "later `once`; `news-monitor alerts list --status held` lists them",
                  markup=False)
    if poll.backlog_matches:
        err.print(f"{plural(poll.backlog_matches, 'new match')} not alerted: published before "
                  f"poll.backlog ({_duration(monitor.settings.poll.backlog_s)}) on its "
                  "feed's first poll; `news-monitor rules apply --rule RULE --alert` queues "
                  "them", markup=False)
    if poll.story_matches:
        err.print(f"{plural(poll.story_matches, 'new match')} not alerted: a later article of "
                  "a story the rule already alerted (alert_per: story); see `news-monitor "
                  "matches --by story`", markup=False)
    if delivery.pending:
        err.print(f"{plural(delivery.pending, 'alert')} still pending: "
                  f"--max-time {max_time} ran out; "
                  "the next `once` (or the daemon) sends them", markup=False)


def _duration(seconds: int) -> str:
    """``86400`` -> ``1d``; the largest unit that divides it (as the config writes it)."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@app.command()
def check(config: ConfigOpt = DEFAULT_CONFIG) -> None:
    """Validate the config, compile every rule, parse every apprise URL; send nothing.

    Every problem is shown in one pass; warnings are shown too but do not fail.
    """
    from monitor.config import DATABASE_ENV
    from monitor.config.load import inspect_config
    from monitor.rules.compile import compile_rules

    report = inspect_config(config, url_check=apprise_refusal)
    if report.settings is None:
        report_problems(config, report.problems)
    for warning in report.warnings:
        err.print(f"warning: {redact(warning)}", markup=False)
    if report.settings is None:
        raise typer.Exit(1)
    settings = report.settings
    # Queries compiled alone already; together they tell which rules have no literal.
    rules = compile_rules(settings.rule_specs(), settings.entity_aliases())
    for name in rules.unindexed_rules:
        err.print(f"note: rule '{name}' can match without any of its words (a /regex/ "
                  "alone, or an OR branch or NOT without a word); it is evaluated for "
                  "every article", markup=False)
    out.print(
        f"{config}: OK ({plural(len(settings.feeds), 'feed')}, "
        f"{plural(len(settings.rules), 'rule')}, "
        f"{plural(len(settings.recipients), 'recipient')})"
    )
    if os.environ.get(DATABASE_ENV, "").strip():
        where = f" (from {DATABASE_ENV})"
    elif settings.database.split(":", 1)[0].split("+", 1)[0].lower() == "sqlite":
        where = f" (a relative SQLite path is relative to {config.resolve().parent})"
    else:
        where = ""
    out.print(f"database: {redact(settings.database)}{where}", markup=False)


@app.command()
def status(
    config: ConfigOpt = DEFAULT_CONFIG,
    format: Annotated[StatusFormat, typer.Option("--format", "-f")] = StatusFormat.table,
) -> None:
    """Per feed: health and last error in plain words, next poll, stored articles,
    full-text mode and how often its article pages failed."""
    from monitor.feeds.health import health, next_poll

    now = datetime.now(UTC)
    settings, database = load_for_database(config)
    store = open_database(database)
    # Without a config (only MONITOR_DATABASE_URL) the modes are unknown.
    modes = ({f.url: f.full_text or settings.poll.full_text for f in settings.feeds}
             if settings is not None else {})
    try:
        pages, pushed = store.page_stats(), store.push_states()
        rows = [
            {
                "url": s.display_url,
                "name": s.name,
                "health": redact(health(s)),
                "next_poll": next_poll(s, now),
                "last_status": s.last_status,
                "last_error": redact(s.last_error) if s.last_error else None,
                "error_count": s.error_count,
                "articles": s.articles,
                "last_polled_at": iso(s.last_polled_at),
                "next_poll_at": iso(s.next_poll_at),
                # Polled or not: a feed gone from the config or disabled (410) is not.
                "active": s.active and s.disabled_reason is None,
                "in_config": s.active,
                "fetch_url": redact(s.fetch_url) if s.fetch_url else None,
                "disabled_reason": s.disabled_reason,
                "items_per_day": round(s.items_per_day, 2) if s.items_per_day is not None
                else None,
                **full_text_status(modes.get(s.url), pages.get(s.url)),
                "push": push_status(pushed.get(s.url), now),
                "lease_owner": s.lease_owner if s.lease_until and s.lease_until > now else None,
                "lease_until": iso(s.lease_until) if s.lease_until and s.lease_until > now
                else None,
            }
            for s in with_configured(store.feed_statuses(), settings)
        ]
    finally:
        store.close()
    if format is StatusFormat.json:
        sys.stdout.write(json.dumps(rows, indent=2, ensure_ascii=False) + "\n")
        return
    print_table(rows, ["name", "url", "health", "next_poll", "articles", "last_polled_at",
                       "full_text", "push"])


def push_status(state: tuple[str, datetime | None] | None, now: datetime) -> str:
    """How new items reach us: "polled", or "WebSub until 2026-12-03T10:00Z" (and polled)."""
    if state is None or state[0] in ("unsubscribed",):
        return "polled"
    name, lease_until = state
    if name == "active" and lease_until is not None and lease_until > now:
        return f"WebSub until {iso(lease_until)} (polled slower)"
    return f"polled (WebSub {name})"


def full_text_status(mode: str | None, pages: Any) -> dict[str, Any]:
    """A feed's full-text mode and page outcomes: "auto: 2 of 8 pages failed (25%)"."""
    done, failed = (pages.done, pages.failed) if pages else (0, 0)
    rate = pages.failure_rate if pages else None
    words = f"{mode}: {failed} of {done + failed} pages failed" if done + failed else mode
    if rate is not None:
        words += f" ({rate:.0%})"
    return {"full_text": words, "full_text_mode": mode, "full_text_done": done,
            "full_text_failed": failed,
            "full_text_failure_rate": round(rate, 3) if rate is not None else None}


def with_configured(statuses: list[Any], settings: Any) -> list[Any]:
    """The stored feeds, plus configured ones no run has stored yet (not polled yet).

    ``settings`` is None when MONITOR_DATABASE_URL alone names the database.
    """
    from monitor.store.repo import FeedStatus

    known = {s.url for s in statuses}
    new = [FeedStatus(url=f.url, name=f.name or f.url, active=True, last_status=None,
                      last_error=None, error_count=0, articles=0, last_polled_at=None,
                      next_poll_at=None, shown_url=f.shown_url)
           for f in (settings.feeds if settings else ()) if f.url and f.url not in known]
    return [*statuses, *new]


@app.command()
def matches(
    config: ConfigOpt = DEFAULT_CONFIG,
    rule: Annotated[str | None, typer.Option("--rule", "-r", help="Only this rule.")] = None,
    since: Annotated[
        str, typer.Option(help="Only matches newer than this (90s, 15m, 2h, 7d; all: every one).")
    ] = "7d",
    format: Annotated[MatchFormat, typer.Option("--format", "-f")] = MatchFormat.table,
    by: Annotated[str | None, typer.Option(
        "--by", help="'story': one row per story, with its matches, rules and feeds.")] = None,
) -> None:
    """Stored matches with their evidence, newest first.

    An unknown --rule (not in the config, never matched) exits 2 with the closest names.
    """
    from monitor.cli.stories import by_story

    if by not in (None, "story"):
        raise fail(f"--by: unknown grouping '{by}' (use: story)")
    cutoff = since_cutoff(since)
    settings, database = load_for_database(config)
    store = open_database(database)
    try:
        rows = [match_row(m) for m in store.list_matches(rule=rule, since=cutoff)]
        if rule is not None and not rows:
            refuse_unknown_rule(rule, settings, store)
    finally:
        store.close()
    if by == "story":
        write_rows(by_story(rows), format.value, ["story", "title", "matches", "rules", "feeds"])
        return
    write_rows(rows, format.value,
               ["rule", "title", "feed", "published", "lang", "story", "terms", "url"],
               csv_columns=list(MATCH_KEYS))


#: The keys of a `matches` row, in order (the csv header, also when there are no rows).
MATCH_KEYS = ("rule", "title", "url", "feed", "published", "matched_at", "story", "lang",
              "terms", "snippet", "evidence")


def match_row(m: Any) -> dict[str, Any]:
    return {
        "rule": m.rule,
        "title": m.title,
        "url": m.url,
        "feed": m.feed,
        "published": iso(m.published),
        "matched_at": iso(m.matched_at),
        "story": m.story,
        "lang": m.language,
        "terms": list(m.terms),
        "snippet": m.snippet,
        # Why it matched, exactly: each literal that fired, in which field, at which
        # character offsets of the original field text.
        "evidence": [
            {"term": h.term, "field": h.field, "start": h.start, "end": h.end, "text": h.text}
            for h in m.hits
        ],
    }


@app.command("notify-test")
def notify_test(
    recipient: Annotated[str, typer.Argument(help="A recipient name from the config.")],
    config: ConfigOpt = DEFAULT_CONFIG,
) -> None:
    """Send a test message to every target of one recipient."""
    from monitor.alerts.drain import send_within
    from monitor.alerts.notifier import Notifier
    from monitor.alerts.render import render_test_message

    settings = load(config)
    if recipient not in settings.recipients:
        known = ", ".join(sorted(settings.recipients)) or "none"
        raise fail(f"unknown recipient '{recipient}' (configured: {known})")
    notifier = Notifier(settings.recipients)
    message = render_test_message(recipient)
    failed = 0
    for i, route in enumerate(notifier.routes_for([recipient])):
        error = send_within(notifier, route, message, settings.delivery.timeout_s)
        if error is None:
            out.print(f"{recipient}[{i}]: sent")
        else:
            failed += 1
            err.print(f"{recipient}[{i}]: failed: {redact(error)}", markup=False)
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
    out.print(f"\n{len(rows)} matches.", markup=False)
    if keep is not None:
        db = keep.resolve()
        out.print(f"The demo database is kept at {db}; look inside with\n"
                  f"  MONITOR_DATABASE_URL=sqlite:///{db} news-monitor matches\n"
                  f"  MONITOR_DATABASE_URL=sqlite:///{db} news-monitor alerts list",
                  markup=False, soft_wrap=True)
    out.print("Next: edit config/example.yaml and run `news-monitor once -c config/example.yaml`.",
              markup=False)


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


@db_app.command("prune")
def db_prune(
    config: ConfigOpt = DEFAULT_CONFIG,
    vacuum: Annotated[bool, typer.Option(
        "--vacuum", help="then VACUUM (SQLite: shrink the file; PostgreSQL: VACUUM ANALYZE)"
    )] = False,
) -> None:
    """Delete the rows `retention:` no longer keeps, in small batches (the daemon does
    this every `retention.every`)."""
    from monitor import upkeep

    settings = load(config)
    store = open_database(str(settings.database))
    try:
        report = upkeep.prune(store, settings, datetime.now(UTC))
        if report is None:
            out.print("retention: not configured, nothing deleted (add a `retention:` section)",
                      markup=False)
        else:
            counts = ", ".join(f"{n} {name}" for name, n in vars(report).items())
            out.print(f"deleted: {counts}", markup=False)
        if vacuum:
            store.vacuum()
            out.print("vacuumed", markup=False)
    except MonitorError as e:
        raise fail(str(e)) from None
    finally:
        store.close()


# -- helpers -----------------------------------------------------------------
