"""Targets that accept the connection and never answer (tests/receivers.HungServer),
over HTTP and SMTP, silent or trickling one byte at a time (apprise's per-read
timeouts then never fire). Real store (SQLite and PostgreSQL), real servers.

What must hold: the other targets get everything; each hung send ends at
``delivery.timeout`` as a failure with a retry (the alert is never dropped); the
hung target's other alerts stay due, untouched; a hung target holds one thread,
not one per pass. The waits are guards against a hang, not timing assertions.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from receivers import HungServer, WebhookReceiver
from test_outbox import FEED, T0

import monitor.alerts.drain as drain_module
from monitor.alerts.drain import Dispatch, deliver_due, drain
from monitor.alerts.notifier import Notifier
from monitor.alerts.policy import RetryPolicy, RuleDelivery
from monitor.article import Article, Hit, Match
from monitor.store.repo import Store

#: Long enough for a local send on a loaded machine, short enough for a test.
TIMEOUT_S = 3.0


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def seed(store: Store, notifier: Notifier, n: int, recipients: list[str]) -> int:
    """n matching articles, each alerting every target of ``recipients``; the feed's id."""
    store.sync_feeds([FEED], T0)
    (feed,) = store.claim_due_feeds(T0, owner="setup", include_not_due=True)
    add(store, notifier, feed.id, range(n), recipients)
    return feed.id


def add(store: Store, notifier: Notifier, feed_id: int, numbers: range,
        recipients: list[str]) -> None:
    items = [(Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key=f"k{i}",
                      guid=f"k{i}", link=f"https://news.example/{i}",
                      canonical_url=f"https://news.example/{i}", title=f"Story {i}",
                      summary="Zoom news", published=T0 - timedelta(minutes=i)),
              [Match(rule="zoom", hits=(Hit("Zoom", "summary", 0, 4, "Zoom"),), snippet="Zoom")])
             for i in numbers]
    store.save_articles(feed_id, items, {"zoom": notifier.routes_for(recipients)}, T0)


def by_recipient(store: Store) -> dict[str, list[tuple[str, int, str | None]]]:
    rows: dict[str, list[tuple[str, int, str | None]]] = {}
    for r in store.list_alerts():
        rows.setdefault(r.recipient, []).append((r.status, r.attempts, r.last_error))
    return rows


@pytest.mark.parametrize("protocol", ["http", "smtp"])
@pytest.mark.parametrize("trickle_s", [None, 0.2], ids=["silent", "trickle"])
def test_a_hung_target_times_out_alone_and_keeps_its_alerts(
    store: Store, protocol: str, trickle_s: float | None
) -> None:
    with WebhookReceiver() as good, HungServer(protocol, trickle_s=trickle_s) as hung:
        notifier = Notifier({"good": [good.json_url()], "hung": [hung.url]})
        seed(store, notifier, 6, ["good", "hung"])
        dispatch = Dispatch(timeout_s=TIMEOUT_S, concurrency=2)
        report = deliver_due(store, notifier, T0, owner="w", dispatch=dispatch)
        assert (report.sent, report.failed, report.dead, report.more) == (6, 1, 0, True)
        assert len(good.delivered) == 6
        rows = by_recipient(store)
        assert [s for s, _, _ in rows["good"]] == ["sent"] * 6
        # One send tried and failed as a timeout (retried later); the other five were
        # given back untouched, due for the next pass.
        failed = [r for r in rows["hung"] if r[0] == "failed"]
        assert len(failed) == 1 and failed[0][1] == 1
        assert "timeout" in (failed[0][2] or "")
        assert sorted(r[:2] for r in rows["hung"] if r[0] != "failed") == [("pending", 0)] * 5
        assert hung.wait_for(1) == 1  # (the timed-out send may connect late on a busy machine)
        if trickle_s is not None:  # only our total timeout can end these: still stuck
            assert dispatch.pool.stuck_targets() == {notifier.routes_for(["hung"])[0].target_key}
            # A next pass sends nothing to a stuck target: no second connection, no thread.
            threads = threading.active_count()
            later = deliver_due(store, notifier, T0 + timedelta(hours=1), owner="w",
                                dispatch=dispatch)
            assert (later.sent, later.failed) == (0, 0)
            assert hung.connections == 1 and threading.active_count() <= threads


def test_every_target_hung_a_stopping_drain_ends_after_one_timeout_each(store: Store) -> None:
    with HungServer("http", trickle_s=0.2) as h1, HungServer("smtp", trickle_s=0.2) as h2, \
            HungServer("http") as h3:
        notifier = Notifier({"a": [h1.url], "b": [h2.url], "c": [h3.url]})
        seed(store, notifier, 4, ["a", "b", "c"])
        stop = threading.Event()
        threading.Thread(target=lambda: (h1.wait_for(1), h2.wait_for(1), h3.wait_for(1),
                                         stop.set()), daemon=True).start()
        report = drain(store, notifier, lambda: T0, owner="w", batch=50, rules=RuleDelivery(),
                       policy=RetryPolicy(), stop=stop.is_set,
                       dispatch=Dispatch(timeout_s=TIMEOUT_S, concurrency=4))
        # One send per target, each ended by its timeout; nothing dropped: 12 rows, 3 failed
        # (retry scheduled), 9 still pending.
        assert (report.sent, report.failed) == (0, 3)
        assert report.pending == 9
        assert (h1.wait_for(1), h2.wait_for(1), h3.wait_for(1)) == (1, 1, 1)
        statuses = sorted(r.status for r in store.list_alerts())
        assert statuses == ["failed"] * 3 + ["pending"] * 9


class LateReceiver(WebhookReceiver):
    """Answers 200, but only after the sender's timeout."""

    def _answer(self, *args: object) -> int:
        time.sleep(TIMEOUT_S * 2)
        return super()._answer(*args)  # type: ignore[arg-type]


def test_a_send_that_succeeds_after_its_timeout_is_recorded_sent(store: Store) -> None:
    with LateReceiver() as late:
        notifier = Notifier({"late": [late.json_url() + "?rto=10"]})
        seed(store, notifier, 1, ["late"])
        dispatch = Dispatch(timeout_s=TIMEOUT_S, concurrency=1)
        assert deliver_due(store, notifier, T0, owner="w", dispatch=dispatch).failed == 1
        late.wait_for(1)
        while dispatch.pool.stuck_targets():  # the send thread returns just after
            time.sleep(0.02)
            deliver_due(store, notifier, T0, owner="w", dispatch=dispatch)
        assert [(r.status, len(late.delivered)) for r in store.list_alerts()] == [("sent", 1)]


def test_an_alert_queued_while_a_send_hangs_goes_out_when_the_pool_is_nudged(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon nudges the pool when a poll queues alerts: a pass waiting on a hung
    send claims them at once, not at its next periodic claim (made never here)."""
    monkeypatch.setattr(drain_module, "RECLAIM_S", 600.0)
    with HungServer("http") as hung, WebhookReceiver() as hook:
        notifier = Notifier({"hung": [hung.url], "hook": [hook.json_url()]})
        feed_id = seed(store, notifier, 1, ["hung"])
        dispatch, stop = Dispatch(timeout_s=30, concurrency=4), threading.Event()
        worker = threading.Thread(target=drain, args=(store, notifier, lambda: T0), kwargs={
            "owner": "w", "batch": 50, "rules": RuleDelivery(), "policy": RetryPolicy(),
            "stop": stop.is_set, "dispatch": dispatch})
        worker.start()
        try:
            hung.wait_for(1)
            add(store, notifier, feed_id, range(1, 2), ["hook"])
            dispatch.pool.nudge()
            deadline = time.monotonic() + 20  # a guard: the hung send runs for 30 s
            while not hook.delivered and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(hook.delivered) == 1
            # ... while the hung send is still in flight (its timeout not yet recorded).
            assert dispatch.pool.running == 1
            assert {r.recipient: r.attempts for r in store.list_alerts()}["hung"] == 0
        finally:
            stop.set()
            worker.join(40)
        assert not worker.is_alive()
