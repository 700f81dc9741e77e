"""One poll pass: claim due feeds, fetch, ingest, schedule, record (the poll half of
``Monitor``).

    claim (batches, leased) ─▶ fetch ─▶ ingest (monitor.poll.ingest) ─▶ next poll
                                                └─▶ FetchRecords, stored in batches

Database outages: a claim that fails ends the pass (fetches under way finish) and
raises ``StoreUnavailable`` so the daemon's loop backs off. Outcomes that could not
be stored stay buffered and are written by the next pass; feeds whose ingest hit the
outage are released unchanged (still due). A pass that saw a connection die under
a transaction gives back any feed lease it still holds at its end: a claim whose
answer was lost with the connection would otherwise hold feeds until the lease ran
out.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from monitor.article import FeedSpec, FeedState, FetchResult
from monitor.errors import StoreUnavailable
from monitor.feeds.schedule import (
    interval_for,
    next_poll_at,
    retry_after_seconds,
    server_hint_s,
    update_rate,
)
from monitor.poll.ingest import Ingesting, IngestOutcome
from monitor.store.repo import FeedLease, FetchRecord
from monitor.websub.schedule import safety_net_interval

if TYPE_CHECKING:
    import random
    from concurrent.futures import Future, ProcessPoolExecutor

    from monitor.feeds.fetch import Fetcher, HostSlots
    from monitor.feeds.parse import ParseResult
    from monitor.observe import Observer

log = logging.getLogger(__name__)
_GONE = "HTTP 410 Gone: the server says the feed was removed"


@dataclass
class PollReport:
    """What one poll pass did (counts, for logs and the CLI)."""

    feeds: int = 0
    not_modified: int = 0
    failed: int = 0
    #: Feeds fetched whose outcome the database could not take (polled again later).
    deferred: int = 0
    new_articles: int = 0
    new_matches: int = 0
    new_alerts: int = 0
    #: New matches stored without an alert (see IngestOutcome).
    backlog_matches: int = 0
    story_matches: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    #: Feeds another process held a lease on, so this pass could not poll them.
    held: list[FeedLease] = field(default_factory=list)
    #: Article pages (full text) not read in this pass: (``failed`` for good, or
    #: ``wanted`` again for a retry; the error) -> how many.
    unread_pages: Counter[tuple[str, str]] = field(default_factory=Counter)

    def add(self, url: str, outcome: IngestOutcome) -> None:
        """Count one polled feed's outcome."""
        self.not_modified += outcome.unchanged
        self.new_articles += outcome.new_articles
        self.new_matches += outcome.new_matches
        self.new_alerts += outcome.new_alerts
        self.backlog_matches += outcome.backlog_matches
        self.story_matches += outcome.story_matches
        self.deferred += outcome.deferred is not None
        if outcome.error:
            self.failed += 1
            self.errors[url] = outcome.error


class Records:
    """Poll outcomes waiting to be stored: written in batches, one transaction each
    (a 304 cycle is then a few transactions, not one per feed), at least every
    ``max_age_s`` so leases are released and status stays current. While the
    database is unavailable they wait (at most one attempt per ``max_age_s``)."""

    def __init__(self, now: float, size: int = 50, max_age_s: float = 1.0) -> None:
        self.items: list[FetchRecord] = []
        #: A flush is under way (in a worker thread): one at a time. A flag, not an
        #: asyncio.Lock: the records outlive the event loop of one `once`.
        self.busy = False
        #: No attempt before this (``time.monotonic()``): the last one found no database.
        self.retry_at = 0.0
        #: Feeds to release unchanged (their ingest hit a database outage).
        self.release: set[int] = set()
        #: Release every feed lease this poller holds (after a lost connection).
        self.release_all = False
        self.size = size
        self.max_age_s = max_age_s
        self.since = now

    def add(self, record: FetchRecord) -> None:
        self.items.append(record)

    def __bool__(self) -> bool:
        return bool(self.items or self.release or self.release_all)

    def full(self, now: float) -> bool:
        if now < self.retry_at or self.busy:
            return False
        return len(self.items) + len(self.release) >= self.size or (
            bool(self) and now - self.since >= self.max_age_s)


class Polling(Ingesting):
    """The poll pass of ``Monitor`` (a mixin: the attributes are the Monitor's)."""

    owner: str
    observer: Observer
    rng: random.Random
    _fixed_interval: set[str]
    _parse_workers: int
    _parse_pool: ProcessPoolExecutor | None
    _parse_warm: Future[ParseResult] | None
    _parse_queued: int
    hosts: HostSlots
    _records: Records
    _stopping: Callable[[], bool]
    #: Set under run_forever (the daemon); None for ``once``.
    _stop_event: asyncio.Event | None
    #: When the running pass started (or last claimed), and when the last one ended.
    polling_since: datetime | None
    last_tick_at: datetime | None

    async def poll(
        self, *, all_feeds: bool = False, finish_pages: bool | None = None,
        on_alerts: Callable[[], None] | None = None,
    ) -> PollReport:
        """Fetch the due feeds (or all of them), store new articles and matches.

        Due feeds are claimed in small batches, topped up as fetches finish, so
        each lease starts close to its fetch and other replicas can claim the rest.
        ``all_feeds`` claims every active feed at once (``news-monitor once``).
        Article pages (full text) run beside the pass; ``finish_pages`` (default:
        outside the daemon) waits for them, and for due retries, before returning.
        Once the daemon stops, feeds claimed but not started are left (``close``
        releases them) and the fetches under way finish.
        In the daemon a slow fetch does not hold the others back: while fetches are
        under way, feeds that come due are claimed (once a tick), and ``on_alerts``
        is called as soon as a feed's ingest queued alerts, not when the pass ends.
        """
        poll = self.settings.poll
        report = PollReport()
        page_matches, unread = self.fulltext.new_matches, Counter(self.fulltext.unread)
        batch = max(20, 2 * poll.concurrency)
        records = self._records
        disruptions = self.store.health.disruptions
        failure: StoreUnavailable | None = None
        from monitor.feeds.fetch import Fetcher

        if records:  # outcomes an outage kept from the last pass: they go first
            await self._flush(records, force=True)
        async with Fetcher(timeout_s=poll.timeout_s, concurrency=poll.concurrency,
                           max_bytes=poll.max_bytes, hosts=self.hosts) as fetcher:
            running: set[asyncio.Task[None]] = set()
            # Claimed, not started: at most `batch` run at once, so a wait over the
            # running set stays cheap even when `once` claims 10,000 feeds.
            pending: deque[FeedState] = deque()
            more, claimed_at = True, time.monotonic()
            while more or running or pending:
                stopping = self._stopping()
                more = more and not stopping
                if stopping:
                    pending.clear()  # close() gives their leases back
                # Nothing more was due, but fetches still run: look again once a tick,
                # so a feed that hangs until its timeout delays no one else's poll.
                again = (not more and running and not (all_feeds or stopping or failure)
                         and time.monotonic() - claimed_at >= poll.tick_s)
                if (more or again) and len(running) + len(pending) <= batch // 2:
                    if again:
                        await self._pass_alive()
                    want = batch - len(running) - len(pending)
                    try:
                        feeds = await self._claim(None if all_feeds else want, all_feeds)
                    except StoreUnavailable as e:  # finish what runs, then back off
                        failure, feeds = e, []
                    claimed_at = time.monotonic()
                    more = failure is None and not all_feeds and len(feeds) == want
                    report.feeds += len(feeds)
                    pending.extend(feeds)
                while pending and len(running) < batch:
                    coro = self._poll_feed(fetcher, pending.popleft(), report, records,
                                           on_alerts)
                    running.add(asyncio.ensure_future(coro))
                if running:
                    # A timeout only when the next tick's claim could take feeds: with
                    # the batch still half full, a finished fetch is what to wait for.
                    room = len(running) + len(pending) <= batch // 2
                    wait_s = (None if more or all_feeds or failure or stopping or not room
                              else max(0.0, claimed_at + poll.tick_s - time.monotonic()))
                    _, running = await asyncio.wait(
                        running, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
                    await self._flush(records)  # outcomes older than max_age_s
            # A claim's answer may have died with a connection: nothing of ours runs now.
            records.release_all |= self.store.health.disruptions != disruptions
            await self._flush(records, force=True)
        await self.fulltext.resume()  # retries due, and pages a dead replica left
        if finish_pages if finish_pages is not None else self._stop_event is None:
            await self.fulltext.aclose()
        # Matches of article pages (teaser items' full text) are new matches too.
        report.new_matches += self.fulltext.new_matches - page_matches
        report.unread_pages = self.fulltext.unread - unread
        if report.feeds:
            log.info("poll.done feeds=%d new_articles=%d new_matches=%d failed=%d deferred=%d",
                     report.feeds, report.new_articles, report.new_matches, report.failed,
                     report.deferred)
        if failure is not None or records:
            raise failure or StoreUnavailable("storing poll outcomes failed: database unavailable")
        return report

    async def _pass_alive(self) -> None:
        """A long pass is a live one: readiness sees it tick, and page retries that
        came due meanwhile start (what the end of a pass does)."""
        if self.polling_since is not None:
            self.polling_since = self.last_tick_at = self.clock()
            self.observer.poll_ticked(self.polling_since)
        await self.fulltext.resume()

    async def _claim(self, limit: int | None, all_feeds: bool) -> list[FeedState]:
        return await asyncio.to_thread(
            self.store.claim_due_feeds, self.clock(), owner=self.owner,
            include_not_due=all_feeds, lease_s=self.lease_s, limit=limit)

    @property
    def lease_s(self) -> int:
        """How long a claimed feed stays leased: the config's ``poll.lease``, or a
        safe default well above the total fetch timeout."""
        poll = self.settings.poll
        return poll.lease_s or max(300, 3 * poll.timeout_s)

    async def _poll_feed(
        self, fetcher: Fetcher, feed: FeedState, report: PollReport, records: Records,
        on_alerts: Callable[[], None] | None = None,
    ) -> None:
        started = time.monotonic()
        url = feed.fetch_url or feed.url
        try:
            result = await fetcher.fetch(url, feed.etag, feed.last_modified)
        except Exception as e:  # a bug (or a broken install) is this feed's failure, said
            log.exception("feed.fetch_crashed url=%s", feed.url)
            result = FetchResult(url=url, final_url=url, status=None,
                                 error=f"internal error: {type(e).__name__}: {e}")
        if result.body is not None:
            parsed = await self._parse_elsewhere(feed, result)
            # Parsing, matching and the database work run in a worker thread so
            # they never stall the event loop that drives the other fetches.
            outcome = await asyncio.to_thread(self._ingest_safely, feed, result, parsed)
        else:  # 304 or an error: nothing to parse or store
            outcome = self._ingest_safely(feed, result)
        report.add(feed.url, outcome)
        if outcome.new_alerts and on_alerts is not None:
            on_alerts()
        if outcome.deferred is not None:  # the database's failure, not the feed's
            records.release.add(feed.id)
        else:
            self._record(feed, result, outcome, records, time.monotonic() - started)
        if records.full(time.monotonic()):
            await self._flush(records)

    def _record(self, feed: FeedState, result: FetchResult, outcome: IngestOutcome,
                records: Records, elapsed_s: float) -> None:
        """Schedule the feed's next poll and buffer its fetch record."""
        self.fulltext.submit(outcome.pages)  # beside the poll: alerts above do not wait
        now = self.clock()
        when, rate = self._schedule(feed, result, outcome, now)
        kind = "error" if outcome.error else "not_modified" if outcome.unchanged else "ok"
        self.observer.feed_polled(kind, elapsed_s, outcome.new_articles, outcome.rules)
        log.info("feed.polled url=%s status=%s new=%d error=%s next=%s", feed.url,
                 result.status, outcome.new_articles, outcome.error, when.isoformat())
        failed = outcome.error is not None
        records.add(FetchRecord(
            feed.id, now=now, next_poll_at=when, status=result.status, error=outcome.error,
            etag=None if failed else result.etag,
            last_modified=None if failed else result.last_modified,
            new_url=result.permanent_redirect, body_hash=outcome.body_hash,
            items_per_day=rate, disabled_reason=_GONE if result.status == 410 else None))

    async def _flush(self, records: Records, *, force: bool = False) -> None:
        """Store the buffered outcomes (one transaction), releasing their leases. While
        the database is unavailable they stay buffered (one attempt per ``max_age_s``
        unless ``force``); the leases hold them until then."""
        if records.busy or not records or (not force and not records.full(time.monotonic())):
            return
        records.busy, records.since = True, time.monotonic()
        try:
            await self._store_records(records)
        except StoreUnavailable:  # StoreHealth logged the outage; a later flush retries
            records.retry_at = time.monotonic() + records.max_age_s
        except Exception:  # the leases expire and a later poll retries these feeds
            log.exception("poll.record_failed feeds=%d", len(records.items))
            records.items.clear()
        finally:
            records.busy = False

    async def _store_records(self, records: Records) -> None:
        """Write what ``records`` holds, forgetting each part once it is stored. The
        parts are copied here, on the event loop, which alone adds to them."""
        if items := list(records.items):
            await asyncio.to_thread(self._record_fetches, records, items)
        if release := set(records.release):
            await asyncio.to_thread(self.store.release_feeds, self.owner, release)
            records.release -= release
        if records.release_all:
            await asyncio.to_thread(self.store.release_feeds, self.owner)
            records.release_all = False

    def _record_fetches(self, records: Records, items: list[FetchRecord]) -> None:
        """Store ``items`` and forget them in the same worker thread: a flush that an
        interrupt stops waiting for still commits, and ``record_buffered`` must not
        write it twice (a failure would count twice)."""
        self.store.record_fetches(items)
        del records.items[: len(items)]  # newer ones were appended after these

    def record_buffered(self) -> None:
        """On the way out (``close``, before the leases go back): store the outcomes a
        stopped pass still holds, in one transaction. An interrupted ``once`` is
        cancelled before the pass's last flush; without this, every feed it finished
        since the last batch would be released as never polled. ``StoreUnavailable``
        is raised (the outcomes are dropped, their leases expire)."""
        items = list(self._records.items)
        if not items:
            return
        self._records.items.clear()
        try:
            self.store.record_fetches(items)
        except StoreUnavailable:
            log.warning("poll.records_dropped feeds=%d: the database is unavailable; the "
                        "next run polls them again", len(items))
            raise
        except Exception:  # close() still releases the leases: the next run polls them
            log.exception("poll.record_failed feeds=%d", len(items))

    def _start_parse_pool(self) -> None:
        """Start the parse processes now: spawning one and importing the parser takes
        seconds on a loaded machine, which the first poll's alerts would otherwise wait
        for (bench/latency.py: the first poll's items were its latency tail)."""
        if self._parse_workers and self._parse_pool is None:
            from monitor.feeds.parse import parse_feed

            self._parse_pool = _parse_pool(self._parse_workers)
            self._parse_warm = self._parse_pool.submit(parse_feed, b"<rss/>", {},
                                                       FeedSpec(url="", name=""))

    async def _parse_elsewhere(self, feed: FeedState, result: FetchResult) -> ParseResult | None:
        """Parse in the process pool (``poll.parse_workers``), so parsing uses another
        core; None when there is no pool, nothing to parse, the pool failed, or it is
        still starting (the thread parses meanwhile)."""
        if not self._parse_workers or not result.ok or result.body is None:
            return None
        if self._parse_warm is not None and not self._parse_warm.done():
            return None
        if hashlib.sha256(result.body).hexdigest() == feed.body_hash:
            return None  # unchanged: _ingest skips it
        spec = FeedSpec(url=feed.url, name=feed.name, tags=feed.tags)
        loop = asyncio.get_running_loop()
        try:
            from monitor.feeds.parse import parse_feed

            self._parse_pool = self._parse_pool or _parse_pool(self._parse_workers)
            # parse_feed itself, so a worker imports monitor.feeds.parse, not the service.
            job = functools.partial(parse_feed, max_items=self.settings.poll.max_items)
            self._parse_queued += 1
            try:
                return await loop.run_in_executor(
                    self._parse_pool, job, result.body, dict(result.headers), spec)
            finally:
                self._parse_queued -= 1
        except Exception as e:  # a broken pool: parse in the thread instead
            log.warning("feed.parse_pool_failed url=%s error=%s", feed.url, e)
            return None

    def _schedule(
        self, feed: FeedState, result: FetchResult, outcome: IngestOutcome, now: datetime,
    ) -> tuple[datetime, float | None]:
        """When to poll the feed next, and its updated rate of new items per day."""
        poll = self.settings.poll
        rate = feed.items_per_day
        if outcome.error is None and feed.last_polled_at is not None:
            elapsed = (now - feed.last_polled_at).total_seconds()
            rate = update_rate(rate, outcome.new_items, elapsed)
        interval = interval_for(
            feed.interval_s, items_per_day=rate,
            adaptive=poll.adaptive and feed.url not in self._fixed_interval,
            min_interval_s=poll.min_interval_s, max_interval_s=poll.max_interval_s)
        interval = safety_net_interval(
            interval, pushed=self.websub is not None and feed.id in self.websub.active,
            missed_items=outcome.new_items, max_interval_s=poll.max_interval_s)
        retry_after = None
        if result.status in (429, 503):
            retry_after = retry_after_seconds(result.headers.get("retry-after"), now)
        when = next_poll_at(
            now, interval,
            error_count=feed.error_count + 1 if outcome.error else 0,
            retry_after_s=retry_after, max_backoff_s=poll.max_backoff_s,
            hint_s=server_hint_s(result.headers, now, ttl_s=outcome.ttl_s),
            jitter=poll.jitter, rng=self.rng)
        return when, rate


def _parse_pool(workers: int) -> ProcessPoolExecutor:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from monitor.orphans import pool_worker

    # spawn, not fork: the daemon has threads (database, resolver) a fork would copy.
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"),
                               initializer=pool_worker, initargs=(os.getpid(),))
