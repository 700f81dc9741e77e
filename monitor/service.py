"""The orchestrator: the only module that calls every pipeline stage.

    claim due feeds ─▶ fetch ─▶ parse ─▶ keep unseen ─▶ match ─▶ save (+ outbox rows)
    claim due alerts ─▶ render ─▶ apprise ─▶ mark sent / retry

The scheduler only ticks; the database decides what is due, so a restart
loses nothing.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitor.alerts.deliver import DeliveryReport, Notifier, deliver_due
from monitor.article import FeedSpec, FeedState, FetchResult, Route
from monitor.config import Settings
from monitor.feeds.fetch import Fetcher
from monitor.feeds.parse import parse_feed
from monitor.feeds.schedule import next_poll_at
from monitor.redact import register_secrets
from monitor.rules.compile import RuleSet, compile_rules
from monitor.store.repo import Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
#: How often the daemon asks the database for due feeds and due alerts.
POLL_TICK_S = 10
DELIVER_TICK_S = 5


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class PollReport:
    """What one poll pass did (counts, for logs and the CLI)."""

    feeds: int = 0
    not_modified: int = 0
    failed: int = 0
    new_articles: int = 0
    new_matches: int = 0
    new_alerts: int = 0
    errors: dict[str, str] = field(default_factory=dict)


class Monitor:
    """One running news-monitor: settings, store, compiled rules and notifier."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        rules: RuleSet,
        notifier: Notifier,
        *,
        clock: Clock = utcnow,
        owner: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rules = rules
        self.notifier = notifier
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._routes = {r.name: notifier.routes_for(r.notify) for r in settings.rules}

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = utcnow) -> Monitor:
        """Wire everything from validated settings; migrates and syncs feeds."""
        register_secrets(settings.secrets)
        rules = compile_rules(settings.rule_specs(), settings.entity_aliases())
        notifier = Notifier(settings.recipients)
        store = Store.open(settings.database)
        store.sync_feeds(feed_specs(settings), clock(), default_interval_s=settings.poll.interval_s)
        return cls(settings, store, rules, notifier, clock=clock)

    def close(self) -> None:
        self.store.close()

    def routes(self, rule: str) -> tuple[Route, ...]:
        return self._routes.get(rule, ())

    # -- polling -------------------------------------------------------------

    async def poll(self, *, all_feeds: bool = False) -> PollReport:
        """Fetch the due feeds (or all of them), store new articles and matches."""
        poll = self.settings.poll
        feeds = self.store.claim_due_feeds(
            self.clock(),
            owner=self.owner,
            include_not_due=all_feeds,
            lease_s=max(300, 3 * poll.timeout_s),
        )
        report = PollReport(feeds=len(feeds))
        if not feeds:
            return report
        async with Fetcher(
            timeout_s=poll.timeout_s, concurrency=poll.concurrency, max_bytes=poll.max_bytes
        ) as fetcher:
            await asyncio.gather(*(self._poll_feed(fetcher, f, report) for f in feeds))
        log.info(
            "poll.done feeds=%d new_articles=%d new_matches=%d failed=%d",
            report.feeds,
            report.new_articles,
            report.new_matches,
            report.failed,
        )
        return report

    async def _poll_feed(self, fetcher: Fetcher, feed: FeedState, report: PollReport) -> None:
        try:
            result = await fetcher.fetch(feed.fetch_url or feed.url, feed.etag, feed.last_modified)
            error = self._ingest(feed, result, report)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # a bug on one feed must not stop the others
            log.exception("feed.crashed url=%s", feed.url)
            error, result = f"internal error: {type(e).__name__}: {e}", None
        status = result.status if result else None
        if error:
            report.failed += 1
            report.errors[feed.url] = error
        now = self.clock()
        self.store.record_fetch(
            feed.id,
            now=now,
            next_poll_at=next_poll_at(
                now, feed.interval_s, error_count=feed.error_count + 1 if error else 0
            ),
            status=status,
            error=error,
            etag=result.etag if result and not error else None,
            last_modified=result.last_modified if result and not error else None,
            new_url=result.permanent_redirect if result else None,
        )
        log.info("feed.polled url=%s status=%s error=%s", feed.url, status, error)

    def _ingest(self, feed: FeedState, result: FetchResult, report: PollReport) -> str | None:
        """Parse, match and store one fetched feed; returns the error to record, if any."""
        if result.not_modified:
            report.not_modified += 1
            return None
        if result.error or result.body is None:
            return result.error or f"HTTP {result.status}: empty response"
        spec = FeedSpec(url=feed.url, name=feed.name, tags=feed.tags)
        parsed = parse_feed(result.body, result.headers, spec)
        if parsed.error:
            return parsed.error
        unseen = self.store.unseen_articles(feed.id, parsed.articles)
        items = [(article, self.rules.match(article)) for article in unseen]
        saved = self.store.save_articles(feed.id, items, self._routes, self.clock())
        report.new_articles += saved.new_articles
        report.new_matches += saved.new_matches
        report.new_alerts += saved.new_alerts
        return None

    # -- delivery ------------------------------------------------------------

    def deliver(self) -> DeliveryReport:
        """Send every due alert (pending, or failed and due for a retry)."""
        return deliver_due(self.store, self.notifier, self.clock(), owner=self.owner)

    async def run_once(self) -> tuple[PollReport, DeliveryReport]:
        """One full cycle over all feeds, due or not, then deliver."""
        report = await self.poll(all_feeds=True)
        return report, await asyncio.to_thread(self.deliver)

    # -- daemon --------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Tick poll and delivery until SIGINT/SIGTERM (or `stop` is set)."""
        from apscheduler.schedulers.asyncio import AsyncIOScheduler

        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        running: set[asyncio.Task[object]] = set()

        def tick(coro_fn: Callable[[], object]) -> Callable[[], None]:
            def start() -> None:
                if stop.is_set():
                    return
                task = asyncio.ensure_future(coro_fn())  # type: ignore[arg-type]
                running.add(task)
                task.add_done_callback(running.discard)

            return start

        scheduler = AsyncIOScheduler(event_loop=loop, timezone=UTC)
        now = self.clock()
        scheduler.add_job(
            tick(self._poll_tick),
            "interval",
            seconds=POLL_TICK_S,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            id="poll",
        )
        scheduler.add_job(
            tick(self._deliver_tick),
            "interval",
            seconds=DELIVER_TICK_S,
            next_run_time=now,
            max_instances=1,
            coalesce=True,
            id="deliver",
        )
        scheduler.start()
        log.info(
            "service.started owner=%s feeds=%d rules=%d",
            self.owner,
            len(self.settings.feeds),
            len(self.settings.rules),
        )
        await stop.wait()
        log.info("service.stopping in_flight=%d", len(running))
        scheduler.shutdown(wait=False)
        if running:  # let in-flight work finish; each feed and alert is its own transaction
            await asyncio.wait(running, timeout=max(30, self.settings.poll.timeout_s + 10))
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        log.info("service.stopped")

    async def _poll_tick(self) -> None:
        try:
            await self.poll()
        except Exception:
            log.exception("poll.failed")

    async def _deliver_tick(self) -> None:
        try:
            report = await asyncio.to_thread(self.deliver)
            if report.sent or report.failed or report.dead:
                log.info(
                    "deliver.done sent=%d failed=%d dead=%d",
                    report.sent,
                    report.failed,
                    report.dead,
                )
        except Exception:
            log.exception("deliver.failed")


def feed_specs(settings: Settings) -> list[FeedSpec]:
    """The configured feeds, each with its effective poll interval."""
    return [
        FeedSpec(
            url=f.url,
            name=f.name or f.url,
            tags=tuple(f.tags),
            interval_s=f.interval_s or settings.poll.interval_s,
        )
        for f in settings.feeds
    ]
