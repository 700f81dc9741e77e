"""The orchestrator: the only module that calls every pipeline stage.

    claim due feeds ─▶ fetch ─▶ parse ─▶ keep unseen ─▶ match ─▶ save (+ outbox rows)
    claim due alerts ─▶ render ─▶ apprise ─▶ mark sent / retry

Two loops only tick (monitor.loop); the database decides what is due, so a
restart loses nothing.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor.alerts.backlog import backlog_keys
from monitor.alerts.deliver import DeliveryReport, Notifier, drain
from monitor.alerts.policy import RuleDelivery, retry_policy
from monitor.article import FeedSpec, FeedState, FetchResult, PageJob, Route
from monitor.config import Settings
from monitor.errors import ConfigError
from monitor.feeds.parse import ParseResult, parse_feed
from monitor.feeds.schedule import (
    interval_for,
    next_poll_at,
    retry_after_seconds,
    server_hint_s,
    update_rate,
)
from monitor.fulltext.runner import FullTextRunner
from monitor.loop import every, interruptible
from monitor.observe import Observer
from monitor.redact import register_secrets
from monitor.rules.compile import RuleSet, compile_rules
from monitor.stories.assign import StorySettings
from monitor.stories.ingest import spike_settings, with_languages
from monitor.store.repo import FeedLease, FetchRecord, Store
from monitor.store.stories import StoryPolicy
from monitor.websub.discover import discover

if TYPE_CHECKING:  # imported where used: `once` with nothing to fetch never loads them
    from concurrent.futures import ProcessPoolExecutor

    from monitor.feeds.fetch import Fetcher
    from monitor.websub.subscriber import WebSubscriber

log = logging.getLogger(__name__)
#: ``once`` parses in a second process (``poll.parse_workers`` unset) from this many feeds.
ONCE_PARSE_PROCESS_FEEDS = 50
#: How often ``once`` looks for alerts to send while it is still polling, in seconds.
ONCE_DELIVERY_WAIT_S = 0.5

Clock = Callable[[], datetime]
#: While a feed is pushed (WebSub), polling, the safety net, runs this many times slower.
PUSHED_POLL_FACTOR = 4


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
    #: Feeds another process held a lease on, so this pass could not poll them.
    held: list[FeedLease] = field(default_factory=list)

    def add(self, url: str, outcome: _Outcome) -> None:
        """Count one polled feed's outcome."""
        self.not_modified += outcome.unchanged
        self.new_articles += outcome.new_articles
        self.new_matches += outcome.new_matches
        self.new_alerts += outcome.new_alerts
        if outcome.error:
            self.failed += 1
            self.errors[url] = outcome.error


_GONE = "HTTP 410 Gone: the server says the feed was removed"


class _Records:
    """Poll outcomes waiting to be stored: written in batches, one transaction each
    (a 304 cycle is then a few transactions, not one per feed), at least every
    ``max_age_s`` so leases are released and status stays current."""

    def __init__(self, now: float, size: int = 50, max_age_s: float = 1.0) -> None:
        self.items: list[FetchRecord] = []
        self.size = size
        self.max_age_s = max_age_s
        self.since = now

    def add(self, record: FetchRecord) -> None:
        self.items.append(record)

    def full(self, now: float) -> bool:
        return len(self.items) >= self.size or now - self.since >= self.max_age_s

    def take(self, now: float) -> list[FetchRecord]:
        batch, self.items, self.since = self.items, [], now
        return batch


@dataclass(frozen=True)
class _Outcome:
    """What ingesting one fetched feed did."""

    error: str | None = None
    #: 304, or a body byte-identical to the last one parsed.
    unchanged: bool = False
    #: Entries this feed had not seen before (stored now, or already via another feed).
    new_items: int = 0
    new_articles: int = 0
    new_matches: int = 0
    new_alerts: int = 0
    #: The hash of the body parsed (None: nothing parsed).
    body_hash: str | None = None
    ttl_s: int | None = None
    #: The rule of each match found in the new articles (for metrics).
    rules: tuple[str, ...] = ()
    #: Article pages claimed for their full text, to fetch beside the poll.
    pages: tuple[PageJob, ...] = ()


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
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.rules = rules
        self.notifier = notifier
        self.clock = clock
        self.owner = owner or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._routes = {
            r.name: notifier.routes_for(settings.rule_notify(r)) for r in settings.rules
        }
        self._delivery = RuleDelivery.from_settings(settings)
        self._retry = retry_policy(settings)
        if settings.stories.enabled:
            store.use_stories(story_policy(settings, self._delivery))
        #: Jitter source (inject a seeded one in tests).
        self.rng = rng or random.Random()
        #: Parses feeds on other cores when ``poll.parse_workers`` > 0 (made on first use).
        self._parse_workers = settings.poll.parse_workers or 0
        self._parse_pool: ProcessPoolExecutor | None = None
        #: Re-reads the config for a reload on SIGHUP (set by the CLI's `run`).
        self.reloader: Callable[[], Settings] | None = None
        # Daemon state, set by run_forever: a poll pass stops claiming once _stop_event
        # is set; _kick_delivery starts a delivery pass right after a poll.
        self._stop_event: asyncio.Event | None = None
        #: Set when stopping or interrupted: a delivery drain (a thread) stops after its batch.
        self._halt = threading.Event()
        #: Feeds with their own ``interval:`` keep it even when polling is adaptive.
        self._fixed_interval = {f.url for f in settings.feeds if f.interval_s is not None}
        #: Told about ticks, polls and deliveries (metrics; set by the web listener).
        self.observer = Observer()
        #: When the last poll pass started or ended (readiness), None before the first;
        #: when the pass under way started (None: none running).
        self.last_tick_at: datetime | None = None
        self.polling_since: datetime | None = None
        #: Set by run_forever: wakes the delivery loop (new alerts from a page or a push).
        self._wake: asyncio.Event | None = None
        #: Full text for teaser items, fetched beside the poll (monitor.fulltext).
        self.fulltext = FullTextRunner(store, settings, match=lambda a: self.rules.match(a),
                                       routes=lambda: self._routes, clock=self.clock,
                                       on_alerts=self._deliver_soon)
        #: WebSub push (``websub:`` in the config); None: polling only.
        self.websub: WebSubscriber | None = None
        if settings.websub is not None:
            from monitor.websub.subscriber import WebSubscriber  # aiohttp: only when used

            self.websub = WebSubscriber(store, settings.websub, clock=self.clock,
                                        ingest=self._ingest_push)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = utcnow) -> Monitor:
        """Wire everything from validated settings; migrates and syncs feeds."""
        register_secrets(settings.secrets)
        rules = compile_rules(settings.rule_specs(), settings.entity_aliases())
        notifier = Notifier(settings.recipients)
        store = Store.open(settings.database)
        store.sync_feeds(feed_specs(settings), clock(), default_interval_s=settings.poll.interval_s)
        return cls(settings, store, rules, notifier, clock=clock)

    def reload(self, settings: Settings) -> None:
        """Swap in a new configuration without a restart (SIGHUP).

        Everything is built first, then swapped in one step: a bad config raises
        before anything changes, and each article is matched by one whole RuleSet,
        old or new, never a mix. The database and the parse pool stay as they are.
        """
        register_secrets(settings.secrets)
        rules = compile_rules(settings.rule_specs(), settings.entity_aliases())
        notifier = Notifier(settings.recipients)
        routes = {r.name: notifier.routes_for(settings.rule_notify(r)) for r in settings.rules}
        delivery, retry = RuleDelivery.from_settings(settings), retry_policy(settings)
        if settings.database != self.settings.database:
            log.warning("config.reload_database_ignored: restart to change the database")
        if settings.websub != self.settings.websub:
            log.warning("config.reload_websub_ignored: restart to change websub")
        self.store.sync_feeds(
            feed_specs(settings), self.clock(), default_interval_s=settings.poll.interval_s
        )
        self.settings, self.rules, self.notifier = settings, rules, notifier
        self._routes, self._delivery, self._retry = routes, delivery, retry
        self.store.use_stories(story_policy(settings, delivery) if settings.stories.enabled
                               else None)
        self._fixed_interval = {f.url for f in settings.feeds if f.interval_s is not None}
        self.fulltext.configure(settings)
        log.info("config.reloaded feeds=%d rules=%d", len(settings.feeds), len(settings.rules))

    def _reload_from_source(self) -> None:
        """SIGHUP: re-read the config file; on any problem keep the running config."""
        if self.reloader is None:
            log.warning("config.reload_unavailable: no config file to re-read")
            return
        try:
            self.reload(self.reloader())
        except ConfigError as e:
            log.error("config.reload_refused problems=%s", " | ".join(e.problems))
        except Exception:
            log.exception("config.reload_failed")

    def close(self) -> None:
        """Release this process's leases (the next run polls every feed at once), then
        the database and the parse pool."""
        self._halt.set()
        try:
            self.store.release_leases(self.owner)
        except Exception:  # the database is gone: the leases expire on their own
            log.warning("service.leases_not_released owner=%s", self.owner, exc_info=True)
        self.store.close()
        if self._parse_pool is not None:
            self._parse_pool.shutdown(wait=True, cancel_futures=True)

    def routes(self, rule: str) -> tuple[Route, ...]:
        return self._routes.get(rule, ())

    # -- polling -------------------------------------------------------------

    async def poll(
        self, *, all_feeds: bool = False, finish_pages: bool | None = None
    ) -> PollReport:
        """Fetch the due feeds (or all of them), store new articles and matches.

        Due feeds are claimed in small batches, topped up as fetches finish, so
        each lease starts close to its fetch and other replicas can claim the rest.
        ``all_feeds`` claims every active feed at once (``news-monitor once``).
        Article pages (full text) run beside the pass; ``finish_pages`` (default:
        outside the daemon) waits for them, and for due retries, before returning.
        """
        poll = self.settings.poll
        report = PollReport()
        batch = max(20, 2 * poll.concurrency)
        from monitor.feeds.fetch import Fetcher

        async with Fetcher(
            timeout_s=poll.timeout_s,
            concurrency=poll.concurrency,
            max_bytes=poll.max_bytes,
            per_host=poll.per_host,
        ) as fetcher:
            running: set[asyncio.Task[None]] = set()
            # Claimed, not started: at most `batch` run at once, so a wait over the
            # running set stays cheap even when `once` claims 10,000 feeds.
            pending: deque[FeedState] = deque()
            records = _Records(time.monotonic())
            more = True
            while more or running or pending:
                more = more and not self._stopping()
                if more and len(running) + len(pending) <= batch // 2:
                    want = batch - len(running) - len(pending)
                    feeds = await self._claim(None if all_feeds else want, all_feeds)
                    more = not all_feeds and len(feeds) == want
                    report.feeds += len(feeds)
                    pending.extend(feeds)
                while pending and len(running) < batch:
                    coro = self._poll_feed(fetcher, pending.popleft(), report, records)
                    running.add(asyncio.ensure_future(coro))
                if running:
                    _, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            await self._flush(records)
        await self.fulltext.resume()  # retries due, and pages a dead replica left
        if finish_pages if finish_pages is not None else self._stop_event is None:
            await self.fulltext.aclose()
        if report.feeds:
            log.info(
                "poll.done feeds=%d new_articles=%d new_matches=%d failed=%d",
                report.feeds,
                report.new_articles,
                report.new_matches,
                report.failed,
            )
        return report

    def _stopping(self) -> bool:
        """True once the daemon is stopping: a pass then claims nothing more."""
        return self._halt.is_set() or (self._stop_event is not None and self._stop_event.is_set())

    async def _claim(self, limit: int | None, all_feeds: bool) -> list[FeedState]:
        return await asyncio.to_thread(
            self.store.claim_due_feeds,
            self.clock(),
            owner=self.owner,
            include_not_due=all_feeds,
            lease_s=self.lease_s,
            limit=limit,
        )

    @property
    def lease_s(self) -> int:
        """How long a claimed feed stays leased: the config's ``poll.lease``, or a
        safe default well above the total fetch timeout."""
        poll = self.settings.poll
        return poll.lease_s or max(300, 3 * poll.timeout_s)

    async def _poll_feed(
        self,
        fetcher: Fetcher,
        feed: FeedState,
        report: PollReport,
        records: _Records,
    ) -> None:
        started = time.monotonic()
        result = await fetcher.fetch(feed.fetch_url or feed.url, feed.etag, feed.last_modified)
        if result.body is not None:
            parsed = await self._parse_elsewhere(feed, result)
            # Parsing, matching and the database work run in a worker thread so
            # they never stall the event loop that drives the other fetches.
            outcome = await asyncio.to_thread(self._ingest_safely, feed, result, parsed)
        else:  # 304 or an error: nothing to parse or store
            outcome = self._ingest_safely(feed, result)
        self.fulltext.submit(outcome.pages)  # beside the poll: alerts above do not wait
        now = self.clock()
        when, rate = self._schedule(feed, result, outcome, now)
        report.add(feed.url, outcome)
        kind = "error" if outcome.error else "not_modified" if outcome.unchanged else "ok"
        self.observer.feed_polled(kind, time.monotonic() - started, outcome.new_articles,
                                  outcome.rules)
        log.info(
            "feed.polled url=%s status=%s new=%d error=%s next=%s",
            feed.url,
            result.status,
            outcome.new_articles,
            outcome.error,
            when.isoformat(),
        )
        records.add(
            FetchRecord(
                feed.id,
                now=now,
                next_poll_at=when,
                status=result.status,
                error=outcome.error,
                etag=result.etag if not outcome.error else None,
                last_modified=result.last_modified if not outcome.error else None,
                new_url=result.permanent_redirect,
                body_hash=outcome.body_hash,
                items_per_day=rate,
                disabled_reason=_GONE if result.status == 410 else None,
            )
        )
        if records.full(time.monotonic()):
            await self._flush(records)

    async def _flush(self, records: _Records) -> None:
        """Store the buffered poll outcomes in one transaction, releasing their leases."""
        batch = records.take(time.monotonic())
        if not batch:
            return
        try:
            await asyncio.to_thread(self.store.record_fetches, batch)
        except Exception:  # the leases expire and a later poll retries these feeds
            log.exception("poll.record_failed feeds=%d", len(batch))

    async def _parse_elsewhere(
        self, feed: FeedState, result: FetchResult
    ) -> ParseResult | None:
        """Parse in the process pool (``poll.parse_workers``), so parsing uses another
        core; None when there is no pool, nothing to parse, or the pool failed."""
        if not self._parse_workers or not result.ok or result.body is None:
            return None
        if hashlib.sha256(result.body).hexdigest() == feed.body_hash:
            return None  # unchanged: _ingest skips it
        spec = FeedSpec(url=feed.url, name=feed.name, tags=feed.tags)
        loop = asyncio.get_running_loop()
        try:
            self._parse_pool = self._parse_pool or _parse_pool(self._parse_workers)
            # parse_feed itself, so a worker imports monitor.feeds.parse, not the service.
            job = functools.partial(parse_feed, max_items=self.settings.poll.max_items)
            return await loop.run_in_executor(
                self._parse_pool, job, result.body, dict(result.headers), spec)
        except Exception as e:  # a broken pool: parse in the thread instead
            log.warning("feed.parse_pool_failed url=%s error=%s", feed.url, e)
            return None

    def _ingest_safely(
        self, feed: FeedState, result: FetchResult,
        parsed: ParseResult | None = None,
    ) -> _Outcome:
        try:
            return self._ingest(feed, result, parsed)
        except Exception as e:  # a bug on one feed must not stop the others
            log.exception("feed.crashed url=%s", feed.url)
            return _Outcome(error=f"internal error: {type(e).__name__}: {e}")

    def _ingest(
        self, feed: FeedState, result: FetchResult,
        parsed: ParseResult | None = None,
    ) -> _Outcome:
        """Parse (unless ``parsed``), match and store one fetched feed (no scheduling,
        no fetch state)."""
        if result.not_modified:
            return _Outcome(unchanged=True)
        if result.error or result.body is None:
            return _Outcome(error=result.error or f"HTTP {result.status}: empty response")
        body_hash = hashlib.sha256(result.body).hexdigest()
        if body_hash == feed.body_hash:  # servers without validators: skip the parse
            return _Outcome(unchanged=True)
        if parsed is None:
            spec = FeedSpec(url=feed.url, name=feed.name, tags=feed.tags)
            parsed = parse_feed(result.body, result.headers, spec,
                                max_items=self.settings.poll.max_items)
        if parsed.error:
            return _Outcome(error=parsed.error)
        if self.websub is not None:
            self.websub.discovered(feed.id, discover(result.body, result.headers, feed.url))
        if parsed.warning:
            log.info("feed.parse_warning url=%s warning=%s", feed.url, parsed.warning)
        unseen = self.store.unseen_articles(feed.id, parsed.articles)
        if self.settings.stories.enabled or self.rules.needs_language:
            unseen = with_languages(unseen, parsed.language)
        items = [(article, self.rules.match(article)) for article in unseen]
        now = self.clock()
        quiet = backlog_keys(unseen, first_poll=feed.body_hash is None, now=now,
                             backlog_s=self.settings.poll.backlog_s)
        saved = self.store.save_articles(feed.id, items, self._routes, now, quiet=quiet)
        # Backlog items stay silent: their pages would alert the rules they missed.
        pages = self.fulltext.want(feed.id, feed.url, [a for a in unseen if a.key not in quiet])
        return _Outcome(
            new_articles=saved.new_articles,
            new_items=len(unseen),
            new_matches=saved.new_matches,
            new_alerts=saved.new_alerts,
            body_hash=body_hash,
            ttl_s=parsed.ttl_s,
            rules=tuple(m.rule for _, ms in items for m in ms),
            pages=tuple(pages),
        )

    def _schedule(
        self, feed: FeedState, result: FetchResult, outcome: _Outcome,
        now: datetime,
    ) -> tuple[datetime, float | None]:
        """When to poll the feed next, and its updated rate of new items per day."""
        poll = self.settings.poll
        rate = feed.items_per_day
        if outcome.error is None and feed.last_polled_at is not None:
            elapsed = (now - feed.last_polled_at).total_seconds()
            rate = update_rate(rate, outcome.new_items, elapsed)
        interval = interval_for(
            feed.interval_s,
            items_per_day=rate,
            adaptive=poll.adaptive and feed.url not in self._fixed_interval,
            min_interval_s=poll.min_interval_s,
            max_interval_s=poll.max_interval_s,
        )
        if self.websub is not None and feed.id in self.websub.active:
            interval = max(interval, min(interval * PUSHED_POLL_FACTOR, poll.max_interval_s))
        retry_after = None
        if result.status in (429, 503):
            retry_after = retry_after_seconds(result.headers.get("retry-after"), now)
        when = next_poll_at(
            now,
            interval,
            error_count=feed.error_count + 1 if outcome.error else 0,
            retry_after_s=retry_after,
            max_backoff_s=poll.max_backoff_s,
            hint_s=server_hint_s(result.headers, now, ttl_s=outcome.ttl_s),
            jitter=poll.jitter,
            rng=self.rng,
        )
        return when, rate

    async def _ingest_push(self, feed_id: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Content a WebSub hub pushed: the same parse, dedup, match and outbox as a poll."""
        feed = await asyncio.to_thread(self.store.feed_state, feed_id)
        if feed is None:
            return
        result = FetchResult(url=feed.url, final_url=feed.url, status=200, body=body,
                             headers=headers)
        outcome = await asyncio.to_thread(self._ingest_safely, feed, result)
        log.info("websub.pushed url=%s new=%d error=%s", feed.url, outcome.new_articles,
                 outcome.error)
        self.fulltext.submit(outcome.pages)
        self._deliver_soon()

    def _deliver_soon(self) -> None:
        """New alerts are stored (a page's full text, a push): deliver now (daemon only)."""
        if self._wake is not None:
            self._wake.set()

    # -- delivery ------------------------------------------------------------

    def deliver(self, *, deadline: float | None = None) -> DeliveryReport:
        """Send everything due (closed digest windows included), batch by batch, until
        nothing is due, the daemon stops, or ``deadline`` (``time.monotonic()``) passes."""
        delivery = self.settings.delivery
        report = drain(self.store, self.notifier, self.clock, owner=self.owner,
                       batch=delivery.batch, lease_s=delivery.lease_s, policy=self._retry,
                       rules=self._delivery, deadline=deadline, stop=self._halt.is_set)
        self.observer.alerts_done(report.sent, report.failed, report.dead)
        return report

    async def run_once(
        self, *, max_time_s: float | None = None
    ) -> tuple[PollReport, DeliveryReport]:
        """One full cycle over all feeds, due or not, then deliver all that is due
        within ``max_time_s`` of the start. SIGINT/SIGTERM interrupt it (``Interrupted``);
        ``close()`` then releases its leases."""
        deadline = None if max_time_s is None else time.monotonic() + max_time_s
        # A parse process costs ~0.3 s to start: worth it for a farm, not for 3 feeds.
        self._default_parse_process(min_feeds=ONCE_PARSE_PROCESS_FEEDS)
        with interruptible(self._halt):
            polling = asyncio.ensure_future(self.poll(all_feeds=True))
            sent = await self._deliver_while(polling, deadline)
            report = await polling
            report.held = await asyncio.to_thread(
                self.store.feeds_leased_elsewhere, self.clock(), self.owner)
            final = await asyncio.to_thread(self.deliver, deadline=deadline)
            final.add(sent)
            return report, final

    async def _deliver_while(
        self, polling: asyncio.Future[PollReport], deadline: float | None
    ) -> DeliveryReport:
        """Send the alerts that feeds polled so far queued, while the poll goes on: a
        first run over a farm then ends soon after its last fetch, not a drain later."""
        sent = DeliveryReport()
        while not polling.done():
            await asyncio.wait({polling}, timeout=ONCE_DELIVERY_WAIT_S)
            if polling.done() or self._halt.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                break  # past the budget: the final pass sends one batch and counts the rest
            sent.add(await asyncio.to_thread(self.deliver, deadline=deadline))
        return sent

    def _default_parse_process(self, *, min_feeds: int) -> None:
        """Without ``poll.parse_workers`` in the config, parse in one other process on a
        machine with 2+ cores (measured: bench/RESULTS.md), started on first use."""
        if (self.settings.poll.parse_workers is None and (os.cpu_count() or 1) >= 2
                and len(self.settings.feeds) >= min_feeds):
            self._parse_workers = self._parse_workers or 1

    # -- daemon --------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Poll and deliver, each in its own loop, until SIGINT/SIGTERM (or ``stop``)."""
        stop = stop or asyncio.Event()
        self._stop_event = stop  # a poll pass stops claiming feeds once this is set
        self._default_parse_process(min_feeds=0)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_from_source)
        wake = self._wake = asyncio.Event()  # new alerts queued: deliver them now
        loops = [
            asyncio.ensure_future(every(lambda: self.settings.poll.tick_s,
                                        functools.partial(self._poll_pass, wake), stop,
                                        name="poll")),
            asyncio.ensure_future(every(lambda: self.settings.delivery.tick_s,
                                        self._deliver_pass, stop, wake, name="deliver")),
        ]
        stop_websub = await self._start_websub(stop, loops)
        log.info("service.started owner=%s feeds=%d rules=%d", self.owner,
                 len(self.settings.feeds), len(self.settings.rules))
        if warning := self.rules.unindexed_warning():
            log.warning(warning)
        await stop.wait()
        self._halt.set()  # a delivery drain stops after its current batch
        log.info("service.stopping")
        # Let in-flight passes finish; each feed and alert is its own transaction.
        await asyncio.wait(loops, timeout=max(30, self.settings.poll.timeout_s + 10))
        await self.fulltext.aclose(timeout_s=self.settings.poll.timeout_s + 5)
        await stop_websub()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("service.stopped")

    async def _start_websub(
        self, stop: asyncio.Event, loops: list[asyncio.Future[None]]
    ) -> Callable[[], Awaitable[None]]:
        """Start the callback listener and the subscription loop; returns their stop."""
        if self.websub is None or self.settings.websub is None:
            return _nothing
        from monitor.websub.listener import Listener
        from monitor.websub.subscriber import client_session

        subscriber = self.websub
        listener = Listener(subscriber, *self.settings.websub.host_port)
        await listener.start()
        session = client_session()
        loops.append(asyncio.ensure_future(every(
            lambda: self.settings.poll.tick_s, functools.partial(subscriber.tick, session),
            stop, name="websub")))

        async def close() -> None:
            await listener.stop()
            await session.close()

        return close

    async def _poll_pass(self, wake: asyncio.Event) -> None:
        # Readiness: the loop is alive while passes start and end, tick after tick.
        self.last_tick_at = self.polling_since = self.clock()
        self.observer.poll_ticked(self.last_tick_at)
        try:
            if (await self.poll()).new_alerts:
                wake.set()  # new alerts go out right after the poll that stored them
        finally:
            self.last_tick_at, self.polling_since = self.clock(), None

    async def _deliver_pass(self) -> None:
        report = await asyncio.to_thread(self.deliver)
        if report.sent or report.failed or report.dead or report.held:
            log.info("deliver.done sent=%d failed=%d dead=%d held=%d",
                     report.sent, report.failed, report.dead, report.held)


async def _nothing() -> None:
    return None


def _parse_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # spawn, not fork: the daemon has threads (database, resolver) a fork would copy.
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))


def story_policy(settings: Settings, delivery: RuleDelivery) -> StoryPolicy:
    """How rules alert on stories: ``stories.window``, each rule's ``alert_per``."""
    return StoryPolicy(
        settings=StorySettings(window_s=settings.stories.window_s),
        per_story={r.name: r.story_updates for r in settings.rules if r.alert_per == "story"},
        release_at=lambda rule, now: delivery.policy(rule).release_at(now),
        spikes={r.name: spike_settings(r.spike) for r in settings.rules if r.spike},
    )


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
