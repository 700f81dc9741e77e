"""The orchestrator: the only module that calls every pipeline stage.

    claim due feeds ─▶ fetch ─▶ parse ─▶ keep unseen ─▶ match ─▶ save (+ outbox rows)
    claim due alerts ─▶ render ─▶ apprise ─▶ mark sent / retry

Two loops only tick (monitor.loop); the database decides what is due, so a
restart loses nothing. The poll pass and the ingest of one feed are in
monitor.poll (mixed into Monitor); what happens when the database goes away or
the process is stopped is in docs/operations.md.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from monitor import upkeep
from monitor.alerts.drain import DeliveryReport, Dispatch, drain, record_before_exit
from monitor.alerts.notifier import Notifier
from monitor.alerts.policy import RuleDelivery, retry_policy
from monitor.alerts.sendpool import SendPool
from monitor.article import FeedSpec, FetchResult, Route
from monitor.config import Settings
from monitor.config.restart import keep_fixed, needs_restart
from monitor.errors import ConfigError, StoreUnavailable
from monitor.feeds.fetch import HostSlots
from monitor.fulltext.runner import FullTextRunner
from monitor.loop import every, interruptible
from monitor.observe import Observer
from monitor.poll.cycle import Polling, PollReport, Records
from monitor.redact import register_secrets
from monitor.store.health import retry_delay_s
from monitor.store.repo import Store
from monitor.store.stories import StoryPolicy
from monitor.stories.assign import StorySettings
from monitor.stories.ingest import spike_settings

if TYPE_CHECKING:  # imported where used: `once` with nothing to fetch never loads them
    from concurrent.futures import Future, ProcessPoolExecutor

    from monitor.alerts.outboard import DeliveryProcess
    from monitor.feeds.parse import ParseResult
    from monitor.rules.match import RuleSet
    from monitor.websub.subscriber import WebSubscriber

log = logging.getLogger(__name__)
#: ``once`` parses in a second process (``poll.parse_workers`` unset) from this many feeds.
ONCE_PARSE_PROCESS_FEEDS = 50
#: How often ``once`` looks for alerts to send while it is still polling, in seconds, at
#: the latest: a feed whose ingest queued alerts wakes it at once.
ONCE_DELIVERY_WAIT_S = 0.5

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Monitor(Polling):
    """One running news-monitor: settings, store, compiled rules and notifier; its poll
    pass and ingest are mixed in from monitor.poll."""

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
        #: Sends in flight and targets stuck on a hung send, across delivery passes.
        self._sends = SendPool()
        #: ``once``'s delivery process, when it delivers in one (``run_once``).
        self._outboard: DeliveryProcess | None = None
        if settings.stories.enabled:
            store.use_stories(story_policy(settings, self._delivery))
        #: Jitter source (inject a seeded one in tests).
        self.rng = rng or random.Random()
        #: Parses feeds on other cores when ``poll.parse_workers`` > 0 (made on first use).
        self._parse_workers = settings.poll.parse_workers or 0
        self._parse_pool: ProcessPoolExecutor | None = None
        #: The pool's first (warm-up) job; until it is done, feeds parse in the thread.
        self._parse_warm: Future[ParseResult] | None = None
        #: Feeds handed to the parse pool and not back yet (a queue that long means the
        #: ingest threads work out story features themselves rather than wait behind it).
        self._parse_queued = 0
        #: Poll outcomes not stored yet (kept across passes while the database is down).
        self._records = Records(time.monotonic())
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
        #: ``poll.per_host``, shared by feed polls and article pages (politeness is per host).
        self.hosts = HostSlots(settings.poll.per_host)
        #: Full text for teaser items, fetched beside the poll (monitor.fulltext).
        self.fulltext = FullTextRunner(store, settings, match=lambda a: self.rules.match(a),
                                       routes=lambda: self._routes, clock=self.clock,
                                       on_alerts=self._deliver_soon, hosts=self.hosts)
        #: WebSub push (``websub:`` in the config); None: polling only.
        self.websub: WebSubscriber | None = None
        if settings.websub is not None:
            from monitor.websub.subscriber import WebSubscriber  # aiohttp: only when used

            self.websub = WebSubscriber(store, settings.websub, clock=self.clock,
                                        ingest=self._ingest_push)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = utcnow,
                      wait_for_database: bool = False) -> Monitor:
        """Wire everything from validated settings; migrates and syncs feeds. The
        daemon (``wait_for_database``) waits for a database that is not there yet."""
        from monitor.config.rulecheck import rules_for_run

        register_secrets(settings.secrets)
        # Compiled on first use when the config's load knew them valid: an all-304 `once`
        # never compiles them.
        rules = rules_for_run(settings.rule_specs(), settings.entity_aliases())
        notifier = Notifier(settings.recipients)
        storage = settings.storage
        if wait_for_database:
            store = Store.open_when_available(
                settings.database, busy_timeout_s=storage.busy_timeout_s,
                delay_s=lambda n: retry_delay_s(n, base_s=storage.retry_base_s,
                                                cap_s=storage.retry_cap_s, rng=random.Random()))
        else:
            store = Store.open(settings.database, busy_timeout_s=storage.busy_timeout_s)
        store.sync_feeds(feed_specs(settings), clock(), default_interval_s=settings.poll.interval_s)
        return cls(settings, store, rules, notifier, clock=clock)

    def reload(self, settings: Settings) -> None:
        """Swap in a new configuration without a restart (SIGHUP).

        Everything is built first, then swapped in one step: a bad config raises
        before anything changes, and each article is matched by one whole RuleSet,
        old or new, never a mix. What was built once at start (the database, the
        listeners, the parse pool: monitor.config.restart) stays as it is, and a change
        to it is logged as ``config.reload_needs_restart``.
        """
        from monitor.rules.compile import compile_rules

        register_secrets(settings.secrets)
        changes = needs_restart(self.settings, settings)
        settings = keep_fixed(self.settings, settings)
        rules = compile_rules(settings.rule_specs(), settings.entity_aliases())
        notifier = Notifier(settings.recipients)
        routes = {r.name: notifier.routes_for(settings.rule_notify(r)) for r in settings.rules}
        delivery, retry = RuleDelivery.from_settings(settings), retry_policy(settings)
        for change in changes:
            values = (f" running={change.running} configured={change.configured}"
                      if change.running is not None else "")
            log.warning("config.reload_needs_restart key=%s%s: not applied, the running "
                        "daemon keeps it; restart news-monitor to apply it",
                        change.key, values)
        self.store.sync_feeds(
            feed_specs(settings), self.clock(), default_interval_s=settings.poll.interval_s
        )
        self.settings, self.rules, self.notifier = settings, rules, notifier
        self._routes, self._delivery, self._retry = routes, delivery, retry
        self.store.use_stories(story_policy(settings, delivery) if settings.stories.enabled
                               else None)
        self._fixed_interval = {f.url for f in settings.feeds if f.interval_s is not None}
        self.fulltext.configure(settings)
        self.hosts.per_host = settings.poll.per_host
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
        """Store the poll outcomes still buffered, release this process's leases (the
        next run polls the feeds it did not finish at once), then close the database
        and the parse pool."""
        self._halt.set()
        if self._outboard is not None:  # it stops, records what it sent, frees its rows
            self._outboard.stop(self.settings.delivery.timeout_s + 5)
        record_before_exit(self.store, self._sends, self.clock())
        try:
            self.record_buffered()
            self.store.release_leases(self.owner)
        except StoreUnavailable as e:  # the database is gone: the leases expire on their own
            log.warning("service.leases_not_released owner=%s error=%s", self.owner, e)
        except Exception:
            log.warning("service.leases_not_released owner=%s", self.owner, exc_info=True)
        self.store.close()
        if self._parse_pool is not None:
            self._parse_pool.shutdown(wait=True, cancel_futures=True)

    def routes(self, rule: str) -> tuple[Route, ...]:
        return self._routes.get(rule, ())

    # -- polling (monitor.poll) -------------------------------------------------

    def _stopping(self) -> bool:
        """True once the daemon is stopping: a pass then claims nothing more."""
        return self._halt.is_set() or (self._stop_event is not None and self._stop_event.is_set())

    async def _ingest_push(self, feed_id: int, body: bytes, headers: Mapping[str, str]) -> None:
        """Content a WebSub hub pushed: the same parse, dedup, match and outbox as a poll."""
        feed = await asyncio.to_thread(self.store.feed_state, feed_id)
        if feed is None:
            return
        result = FetchResult(url=feed.url, final_url=feed.url, status=200, body=body,
                             headers=headers)
        outcome = await asyncio.to_thread(self._ingest_safely, feed, result)
        self.observer.feed_pushed(outcome.new_articles, outcome.rules)
        log.info("websub.pushed url=%s new=%d error=%s", feed.url, outcome.new_articles,
                 outcome.error)
        self.fulltext.submit(outcome.pages)
        self._deliver_soon()

    def _deliver_soon(self) -> None:
        """New alerts are stored (a poll, a page's full text, a push): deliver them now
        (the daemon, `once`), also when a delivery pass is under way and waiting on a send."""
        if self._outboard is not None:
            self._outboard.nudge()
        elif self._wake is not None:
            self._wake.set()
            self._sends.nudge()

    # -- delivery ------------------------------------------------------------

    def deliver(self, *, deadline: float | None = None) -> DeliveryReport:
        """Send everything due (closed digest windows included), batch by batch, until
        nothing is due, the daemon stops, or ``deadline`` (``time.monotonic()``) passes."""
        delivery = self.settings.delivery
        report = drain(self.store, self.notifier, self.clock, owner=self.owner,
                       batch=delivery.batch, lease_s=delivery.lease_s, policy=self._retry,
                       rules=self._delivery, deadline=deadline, stop=self._halt.is_set,
                       dispatch=Dispatch(delivery.timeout_s, delivery.concurrency, self._sends))
        self.observer.alerts_done(report.sent, report.failed, report.dead)
        return report

    async def run_once(
        self, *, max_time_s: float | None = None, delivery_process: bool = False
    ) -> tuple[PollReport, DeliveryReport]:
        """One full cycle over all feeds, due or not, then deliver all that is due
        within ``max_time_s`` of the start. SIGINT/SIGTERM interrupt it (``Interrupted``);
        ``close()`` then releases its leases. ``delivery_process``: over a farm, on 2+
        cores, deliver in a process of its own while this one polls (the CLI's ``once``)."""
        deadline = None if max_time_s is None else time.monotonic() + max_time_s
        # A parse process costs ~0.3 s to start: worth it for a farm, not for 3 feeds.
        self._default_parse_process(min_feeds=ONCE_PARSE_PROCESS_FEEDS)
        if (delivery_process and self._farm(ONCE_PARSE_PROCESS_FEEDS)
                and self.notifier.target_keys()):
            from monitor.alerts.outboard import DeliveryProcess

            self._outboard = DeliveryProcess(self.store, self.settings, self.owner,
                                            deadline=deadline)
            with interruptible(self._halt):
                return await self._once_delivering_aside(self._outboard, deadline)
        self._wake = asyncio.Event()  # set as each feed's ingest queues alerts
        with interruptible(self._halt):
            polling = asyncio.ensure_future(self.poll(all_feeds=True,
                                                      on_alerts=self._deliver_soon))
            sent = await self._deliver_while(polling, deadline)
            report = await polling
            report.held = await asyncio.to_thread(
                self.store.feeds_leased_elsewhere, self.clock(), self.owner)
            final = await asyncio.to_thread(self.deliver, deadline=deadline)
            final.add(sent)
            return report, final

    async def _once_delivering_aside(
        self, aside: DeliveryProcess, deadline: float | None
    ) -> tuple[PollReport, DeliveryReport]:
        """``run_once`` with the delivery in a child process, told of each feed's new
        alerts. It starts with the run when alerts are due or a feed was never polled
        (its start then overlaps the first fetches), else with the first alert queued:
        an all-304 run starts none."""
        if await asyncio.to_thread(self._alerts_ahead):
            aside.nudge()
        report = await self.poll(all_feeds=True, on_alerts=self._deliver_soon)
        report.held = await asyncio.to_thread(
            self.store.feeds_leased_elsewhere, self.clock(), self.owner)
        final = await asyncio.to_thread(aside.finish, self._halt.is_set)
        if final is None:  # never started (closed digest windows are still due) or lost
            final = await asyncio.to_thread(self.deliver, deadline=deadline)
        elif final.pending:  # it stopped at the deadline while the poll stored more
            final.pending = await asyncio.to_thread(self.store.count_due_alerts, self.clock())
        return report, final

    def _alerts_ahead(self) -> bool:
        return bool(self.store.count_due_alerts(self.clock())) or self.store.has_unpolled_feeds()

    async def _deliver_while(
        self, polling: asyncio.Future[PollReport], deadline: float | None
    ) -> DeliveryReport:
        """Send the alerts that feeds polled so far queued, while the poll goes on: a
        first run over a farm then ends soon after its last fetch, not a drain later."""
        sent = DeliveryReport()
        wake = self._wake or asyncio.Event()
        while not polling.done():
            woken = asyncio.ensure_future(wake.wait())
            await asyncio.wait({polling, woken}, timeout=ONCE_DELIVERY_WAIT_S,
                               return_when=asyncio.FIRST_COMPLETED)
            woken.cancel()
            wake.clear()
            if polling.done() or self._halt.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                break  # past the budget: the final pass sends one batch and counts the rest
            sent.add(await asyncio.to_thread(self.deliver, deadline=deadline))
        return sent

    def _default_parse_process(self, *, min_feeds: int) -> None:
        """Without ``poll.parse_workers`` in the config, parse in one other process on a
        machine with 2+ cores (measured: bench/RESULTS.md), started on first use."""
        if self.settings.poll.parse_workers is None and self._farm(min_feeds):
            self._parse_workers = self._parse_workers or 1

    def _farm(self, min_feeds: int) -> bool:
        """At least ``min_feeds`` feeds and 2+ cores: another process pays for its start."""
        return (os.cpu_count() or 1) >= 2 and len(self.settings.feeds) >= min_feeds

    # -- daemon --------------------------------------------------------------

    async def run_forever(self, stop: asyncio.Event | None = None) -> None:
        """Poll and deliver, each in its own loop, until SIGINT/SIGTERM (or ``stop``)."""
        stop = stop or asyncio.Event()
        self._stop_event = stop  # a poll pass stops claiming feeds once this is set
        self._default_parse_process(min_feeds=0)
        self._start_parse_pool()
        self.fulltext.warm()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, self._reload_from_source)
        wake = self._wake = asyncio.Event()  # new alerts queued: deliver them now
        stop_websub: Callable[[], Awaitable[None]] = _nothing
        loops: list[asyncio.Future[None]] = []
        if self.websub is not None:  # first: a callback address in use stops the start
            from monitor.websub.daemon import start_websub

            websub, stop_websub = await start_websub(
                self.websub, self.settings.http, stop,
                tick_s=lambda: self.settings.poll.tick_s, backoff=self._retry_delay_s)
            loops.append(websub)
        loops += [
            asyncio.ensure_future(every(lambda: self.settings.poll.tick_s,
                                        functools.partial(self._poll_pass, wake), stop,
                                        name="poll", backoff=self._retry_delay_s)),
            asyncio.ensure_future(every(lambda: self.settings.delivery.tick_s,
                                        self._deliver_pass, stop, wake, name="deliver",
                                        backoff=self._retry_delay_s)),
            asyncio.ensure_future(every(lambda: self.settings.retention.every_s,
                                        self._prune_pass, stop, name="prune",
                                        backoff=self._retry_delay_s)),
        ]
        # apprise loads in the background: the first alert need not wait for it.
        loops.append(asyncio.ensure_future(asyncio.to_thread(self.notifier.warm)))
        log.info("service.started owner=%s feeds=%d rules=%d", self.owner,
                 len(self.settings.feeds), len(self.settings.rules))
        if warning := self.rules.unindexed_warning():
            log.warning(warning)
        await stop.wait()
        self._halt.set()  # a delivery drain stops after its current batch
        log.info("service.stopping")
        # Let in-flight passes finish; each feed and alert is its own transaction.
        await asyncio.wait(loops, timeout=max(30, self.settings.poll.timeout_s + 10,
                                              self.settings.delivery.timeout_s + 5))
        await self.fulltext.aclose(timeout_s=self.settings.poll.timeout_s + 5)
        await stop_websub()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.remove_signal_handler(sig)
        log.info("service.stopped")

    def _retry_delay_s(self, failures: int) -> float:
        """The pause of a loop after its ``failures``-th pass in a row found no database."""
        storage = self.settings.storage
        return retry_delay_s(failures, base_s=storage.retry_base_s, cap_s=storage.retry_cap_s,
                             rng=self.rng)

    async def _poll_pass(self, wake: asyncio.Event) -> None:
        # Readiness: the loop is alive while passes start and end, tick after tick.
        self.last_tick_at = self.polling_since = self.clock()
        self.observer.poll_ticked(self.last_tick_at)
        try:
            # New alerts go out as soon as the feed that queued them is stored.
            await self.poll(on_alerts=self._deliver_soon)
        finally:
            self.last_tick_at, self.polling_since = self.clock(), None

    async def _prune_pass(self) -> None:
        await asyncio.to_thread(upkeep.prune, self.store, self.settings, self.clock(),
                                stop=self._halt.is_set)

    async def _deliver_pass(self) -> None:
        report = await asyncio.to_thread(self.deliver)
        if report.sent or report.failed or report.dead or report.held:
            log.info("deliver.done sent=%d failed=%d dead=%d held=%d",
                     report.sent, report.failed, report.dead, report.held)


async def _nothing() -> None:
    return None


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
            shown_url=f.shown_url,
        )
        for f in settings.feeds
    ]
