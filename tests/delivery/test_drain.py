"""Delivery drains what is due, batch by batch, within a deadline, and never sends
on a claim whose lease may have run out. Real store (SQLite and PostgreSQL), real
webhook receiver."""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from receivers import WebhookReceiver
from test_outbox import T0, seed, titles

from monitor.alerts import drain as drain_module
from monitor.alerts.drain import Dispatch, deliver_due, drain, record_before_exit
from monitor.alerts.notifier import Notifier
from monitor.alerts.policy import RetryPolicy, RuleDelivery
from monitor.alerts.sendpool import SendOutcome, SendPool
from monitor.errors import StoreUnavailable
from monitor.store.repo import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def run_drain(store: Store, notifier: Notifier, now: datetime = T0,
              **kwargs: object) -> drain_module.DeliveryReport:
    return drain(store, notifier, lambda: now, owner="w", batch=5, rules=RuleDelivery(),
                 policy=RetryPolicy(), **kwargs)  # type: ignore[arg-type]


def test_drain_sends_everything_due_batch_by_batch(store: Store) -> None:
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 12)
        report = run_drain(store, notifier)
        assert (report.sent, report.pending) == (12, 0)
        assert sorted(titles(hook)) == sorted(f"[zoom] Story {i}" for i in range(12))
        assert store.count_due_alerts(T0) == 0


def test_drain_past_its_deadline_sends_one_batch_and_a_stopped_one_none(store: Store) -> None:
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 12)
        report = run_drain(store, notifier, deadline=time.monotonic() - 1)
        assert (report.sent, report.pending, len(hook.delivered)) == (5, 7, 5)
        # Stopping starts nothing: the rest stays due for the next run.
        stopped = run_drain(store, notifier, stop=lambda: True)
        assert (stopped.sent, stopped.pending) == (0, 7)


def test_a_claim_is_given_back_before_its_lease_can_run_out(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 5)
        # Each look at the clock is 2 s later: half of a 10 s lease is spent after two sends.
        ticks = itertools.count(0, 2)
        monkeypatch.setattr(drain_module, "_monotonic", lambda: float(next(ticks)))
        report = deliver_due(store, notifier, T0, owner="slow", limit=5, lease_s=10)
        assert report.sent == 2 and report.more
        # The rest is free at once for anyone (not after the lease), and sent once.
        monkeypatch.undo()
        assert deliver_due(store, notifier, T0, owner="other", limit=5, lease_s=10).sent == 3
        assert len(titles(hook)) == len(set(titles(hook))) == 5


class _DatabaseGoesAway:
    """The real store, except that recording sends fails ``times`` times, as when the
    database is cut while the messages are on their way."""

    def __init__(self, store: Store, times: int) -> None:
        self._store, self.times = store, times

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def mark_alerts_sent(self, alert_ids: list[int], now: datetime, **kwargs: Any) -> None:
        if self.times:
            self.times -= 1
            raise StoreUnavailable("the database is unavailable (test)")
        self._store.mark_alerts_sent(alert_ids, now, **kwargs)


def test_sends_that_could_not_be_recorded_are_recorded_not_sent_again(store: Store) -> None:
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 3)
        dispatch = Dispatch()  # the daemon keeps one pool across passes
        flaky = _DatabaseGoesAway(store, times=2)
        with pytest.raises(StoreUnavailable):
            run_drain(flaky, notifier, dispatch=dispatch, lease_s=5)  # type: ignore[arg-type]
        assert len(hook.delivered) >= 1
        # Later, past the lease of those rows: the first pass after the database came back
        # (another failure first) records them; nothing is claimed and sent again.
        later = T0 + timedelta(minutes=5)
        with pytest.raises(StoreUnavailable):
            run_drain(flaky, notifier, later, dispatch=dispatch, lease_s=5)  # type: ignore[arg-type]
        report = run_drain(flaky, notifier, later, dispatch=dispatch, lease_s=5)  # type: ignore[arg-type]
        sent = titles(hook)
        assert sorted(sent) == sorted(set(sent)) == [f"[zoom] Story {i}" for i in range(3)]
        assert store.count_due_alerts(later) == 0 and report.pending == 0


def test_a_run_that_ends_records_what_it_delivered_while_the_database_was_away(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    # A slow target: when recording the first send fails, the second row of the same
    # target is in flight (started as the first returned), and is delivered after the
    # pass gave up. The run's end waits for it and records it with the first.
    with WebhookReceiver(delay_s=0.3) as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 2)
        dispatch = Dispatch()
        with pytest.raises(StoreUnavailable):
            run_drain(_DatabaseGoesAway(store, times=9), notifier, dispatch=dispatch,
                      lease_s=5)  # type: ignore[arg-type]
        assert dispatch.pool.running == 1
        # The database is back when the run ends: recorded, never due again.
        record_before_exit(store, dispatch.pool, T0)
        assert len(hook.delivered) == 2
        assert store.count_due_alerts(T0 + timedelta(minutes=5)) == 0
    # Still away when it ends: said (how many, which), nothing raised.
    pool = SendPool()
    pool.put_back([SendOutcome(job=SimpleNamespace(id=41), target="t", error=None)])
    record_before_exit(_DatabaseGoesAway(store, times=1), pool, T0)  # type: ignore[arg-type]
    assert "deliver.unrecorded alerts=1 ids=[41]" in caplog.text
