"""Prometheus metrics: counters fed by the daemon's hooks, gauges read at scrape time.

Counters count what this process did (``rate()`` them; they restart at zero with
the process). Gauges about the outbox, feeds and the last poll come from the
database at each scrape, so every replica reports the same shared state. Every
series exists at zero from the start; no label ever holds a URL.
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from monitor import __version__
from monitor.config import Settings
from monitor.errors import StoreUnavailable
from monitor.feeds.health import feed_state
from monitor.observe import Observer
from monitor.store.repo import Store
from monitor.web.pace import Pacer

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
POLL_RESULTS = ("ok", "not_modified", "error")
ALERT_RESULTS = ("sent", "failed", "dead")
FEED_STATES = ("ok", "failing", "disabled", "new", "inactive")
# The *_created series double the output and no dashboard of ours reads them.
disable_created_metrics()
_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60)


class Metrics(Observer):
    """The registry of one web app, and the daemon's observer feeding it."""

    def __init__(self, store: Store, settings: Callable[[], Settings],
                 clock: Callable[[], datetime]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._settings = settings
        r = self.registry
        self.polls = Counter("newsmonitor_feed_polls", "Feed polls by result.",
                             ["result"], registry=r)
        self.poll_seconds = Histogram("newsmonitor_feed_poll_duration_seconds",
                                      "Time to fetch and ingest one feed.", buckets=_BUCKETS,
                                      registry=r)
        self.articles = Counter("newsmonitor_articles_new", "New articles stored.", registry=r)
        self.matches = Counter("newsmonitor_rule_matches", "Matches found in new articles.",
                               ["rule"], registry=r)
        self.alerts = Counter("newsmonitor_alerts", "Alert deliveries by result.", ["result"],
                              registry=r)
        info = Gauge("newsmonitor_build_info", "Version of news-monitor (always 1).",
                     ["version", "python"], registry=r)
        info.labels(__version__, platform.python_version()).set(1)
        for result in POLL_RESULTS:
            self.polls.labels(result)
        for result in ALERT_RESULTS:
            self.alerts.labels(result)
        self._known_rules()
        r.register(_HealthGauges(store))
        r.register(_StoreGauges(store, clock))

    def watch_pacer(self, pacer: Pacer) -> None:
        """Count the web's requests held back while a poll pass ran (``web.pace``)."""
        self.registry.register(_PacerCounters(pacer))

    def _known_rules(self) -> None:
        for rule in self._settings().rules:  # a configured rule shows at zero
            self.matches.labels(rule.name)

    def render(self) -> bytes:
        """The text exposition (blocking: it queries the database)."""
        self._known_rules()
        return generate_latest(self.registry)

    # -- Observer hooks (called from the daemon's loop and worker threads) --

    def feed_polled(self, result: str, duration_s: float, new_articles: int,
                    rules: Sequence[str]) -> None:
        self.polls.labels(result).inc()
        self.poll_seconds.observe(duration_s)
        self._ingested(new_articles, rules)

    def feed_pushed(self, new_articles: int, rules: Sequence[str]) -> None:
        self._ingested(new_articles, rules)

    def _ingested(self, new_articles: int, rules: Sequence[str]) -> None:
        """New articles and their matches, polled or pushed alike."""
        self.articles.inc(new_articles)
        for rule in rules:
            self.matches.labels(rule).inc()

    def alerts_done(self, sent: int, failed: int, dead: int) -> None:
        for result, n in zip(ALERT_RESULTS, (sent, failed, dead)):
            self.alerts.labels(result).inc(n)


class _HealthGauges(Collector):
    """Whether this process reaches its database: read from its own state, so it shows
    while the database is gone (then the database gauges below are left out)."""

    def __init__(self, store: Store) -> None:
        self._health = store.health

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        outage = self._health.outage
        yield GaugeMetricFamily("newsmonitor_database_up",
                                "1 when the last database transaction worked, else 0.",
                                0 if outage else 1)
        yield CounterMetricFamily("newsmonitor_database_outages",
                                  "Database outages this process saw (began).",
                                  self._health.outages)
        yield GaugeMetricFamily("newsmonitor_database_failures",
                                "Failed transactions in the outage under way (0: none).",
                                outage.failures if outage else 0)


class _PacerCounters(Collector):
    """How often, and how long, requests waited for the web's CPU budget while a poll
    pass ran (``http.cpu_while_polling``; both stay at zero without it)."""

    def __init__(self, pacer: Pacer) -> None:
        self._pacer = pacer

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily("newsmonitor_web_paced_requests",
                                  "Web requests that waited for the CPU budget while polling.",
                                  self._pacer.waits)
        yield CounterMetricFamily("newsmonitor_web_paced_wait_seconds",
                                  "Seconds web requests waited for the CPU budget.",
                                  self._pacer.waited_s)


class _StoreGauges(Collector):
    """Gauges computed from the database at each scrape."""

    def __init__(self, store: Store, clock: Callable[[], datetime]) -> None:
        self._store, self._clock = store, clock

    def describe(self) -> list[Metric]:
        return []  # collected on demand only: registering must not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._collect()
        except StoreUnavailable:  # newsmonitor_database_up says so; the rest is unknown
            return

    def _collect(self) -> Iterator[Metric]:
        now = self._clock()
        outbox = self._store.outbox_summary()
        pending = sum(outbox.by_status.get(s, 0) for s in ("pending", "failed"))
        yield GaugeMetricFamily("newsmonitor_outbox_pending",
                                "Alerts waiting to be delivered (pending or failed).", pending)
        age = (now - outbox.oldest_pending_at).total_seconds() if outbox.oldest_pending_at else 0
        yield GaugeMetricFamily("newsmonitor_outbox_oldest_pending_age_seconds",
                                "Age of the oldest alert waiting (0: none).", max(0.0, age))
        feeds = GaugeMetricFamily("newsmonitor_feeds", "Configured feeds by state.",
                                  labels=["state"])
        counts = dict.fromkeys(FEED_STATES, 0)
        for status in self._store.feed_statuses():
            counts[feed_state(status)] += 1
        for state, n in counts.items():
            feeds.add_metric([state], n)
        yield feeds
        last = self._store.last_poll_at()
        yield GaugeMetricFamily("newsmonitor_last_poll_timestamp_seconds",
                                "When a feed was last polled, Unix time (0: never).",
                                last.timestamp() if last else 0)
