"""monitor.alerts.drain and monitor.alerts.notifier against real receivers: aiosmtpd SMTP
and a local HTTP webhook.

The store is a small in-memory fake with the three methods deliver_due uses;
the real Store's outbox is tested with the store. The clock is injected.
"""

from __future__ import annotations

import logging
import random
import socket
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Sequence

import pytest
from receivers import SMTPReceiver, WebhookReceiver

from monitor.alerts.drain import DeliveryReport, deliver_due
from monitor.alerts.notifier import Notifier, plugin_format, target_key
from monitor.alerts.policy import RetryPolicy, next_retry_at
from monitor.alerts.render import render_test_message
from monitor.article import AlertToSend, Article, Hit, Route
from monitor.errors import ConfigError, DeliveryError
from monitor.redact import clear_secrets, redact

T0 = datetime(2026, 11, 26, 14, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_secrets() -> Iterator[None]:
    clear_secrets()
    yield
    clear_secrets()


def make_alert(
    alert_id: int, route: Route, *, title: str = "Zoom exits mainland China"
) -> AlertToSend:
    article = Article(
        feed_url="https://thehill.com/news/feed/",
        feed_name="The Hill",
        feed_tags=(),
        key=f"guid-{alert_id}",
        guid=f"guid-{alert_id}",
        link=f"https://thehill.com/tech/{alert_id}",
        canonical_url=f"https://thehill.com/tech/{alert_id}",
        title=title,
        published=datetime(2026, 11, 26, 13, 45, tzinfo=timezone.utc),
    )
    return AlertToSend(
        id=alert_id,
        rule="zoom-china",
        recipient=route.recipient,
        target_key=route.target_key,
        attempts=0,
        article=article,
        hits=(Hit("Zoom", "title", 0, 4, "Zoom"),),
        snippet="«Zoom» will stop selling in mainland China",
        matched_at=T0,
    )


@dataclass
class Row:
    alert: AlertToSend
    status: str = "pending"
    next_attempt_at: datetime = T0
    last_error: str | None = None
    sent_at: datetime | None = None
    fail_times: tuple[datetime, ...] = ()


class FakeStore:
    """The outbox part of the Store, in memory."""

    def __init__(self, alerts: list[AlertToSend]) -> None:
        self.rows = {a.id: Row(a) for a in alerts}
        self.claims: list[tuple[datetime, str, int]] = []

    def claim_due_alerts(self, now: datetime, *, owner: str, limit: int) -> list[AlertToSend]:
        self.claims.append((now, owner, limit))
        due = [r for r in self.rows.values() if r.status == "pending" and r.next_attempt_at <= now]
        return [r.alert for r in due[:limit]]

    def mark_alerts_sent(self, alert_ids: Sequence[int], now: datetime, *,
                         joining: Callable[[], Sequence[int]] | None = None) -> None:
        for alert_id in [*alert_ids, *(joining() if joining else ())]:
            row = self.rows[alert_id]
            row.status, row.sent_at = "sent", now

    def mark_alert_failed(
        self, alert_id: int, error: str, now: datetime, next_attempt_at: datetime | None
    ) -> None:
        row = self.rows[alert_id]
        row.alert = replace(row.alert, attempts=row.alert.attempts + 1)
        row.last_error = error
        row.fail_times += (now,)
        if next_attempt_at is None:
            row.status = "dead"
        else:
            row.next_attempt_at = next_attempt_at


def closed_port() -> int:
    """A port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- pure parts -------------------------------------------------------------


def test_target_key_is_stable_short_and_secret_free() -> None:
    url = "mailto://bob:Sup3rSecret@smtp.example.com?to=a@example.com"
    key = target_key(url)
    assert key == target_key(url) and len(key) == 16 and int(key, 16) >= 0
    assert "Sup3rSecret" not in key and key != target_key(url + "&x=1")


def test_next_retry_at_grows_exponentially_within_jitter_bounds() -> None:
    rng = random.Random(42)
    for attempts in range(1, 8):
        retry_at = next_retry_at(attempts, T0, rng=rng)
        assert retry_at is not None
        delay = (retry_at - T0).total_seconds()
        nominal = 30 * 2 ** (attempts - 1)
        assert 0.8 * nominal <= delay <= min(3600, 1.2 * nominal), attempts


def test_next_retry_at_never_exceeds_the_cap() -> None:
    rng = random.Random(7)
    times = [next_retry_at(n, T0, max_attempts=100, rng=rng) for n in range(8, 60)]
    delays = [t - T0 for t in times if t is not None]
    assert len(delays) == len(times)
    assert all(timedelta(seconds=0.8 * 3600) <= d <= timedelta(seconds=3600) for d in delays)


def test_next_retry_at_gives_up_after_max_attempts() -> None:
    assert next_retry_at(9, T0, max_attempts=10, rng=random.Random(1)) is not None
    assert next_retry_at(10, T0, max_attempts=10, rng=random.Random(1)) is None
    assert next_retry_at(3, T0, max_attempts=3) is None


def test_next_retry_at_is_deterministic_with_a_seeded_rng() -> None:
    a = [next_retry_at(n, T0, rng=random.Random(3)) for n in range(1, 6)]
    b = [next_retry_at(n, T0, rng=random.Random(3)) for n in range(1, 6)]
    assert a == b


# -- Notifier: configuration ---------------------------------------------------


def test_problems_name_the_bad_url_redacted() -> None:
    notifier = Notifier(
        {
            "ok": ["console://", "json://127.0.0.1:9/x"],
            "bad": ["console://", "nosuchservice://user:TopSecret99@host/path"],
        }
    )
    problems = notifier.problems()
    assert problems == ["recipients.bad[1]: apprise cannot use 'nosuchservice://***/***'"]
    assert "TopSecret99" not in problems[0]


def test_url_credentials_are_registered_for_redaction() -> None:
    Notifier(
        {
            "chat": ["slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ"],
            "mail": ["mailtos://bob:p%40ss-w0rd@smtp.example.com?to=a@example.com"],
        }
    )
    line = "apprise said: token TIiajkdnlazkcOXrIdevi7FQ rejected; login p@ss-w0rd failed"
    assert redact(line) == "apprise said: token *** rejected; login *** failed"


def test_routes_one_per_target_and_unknown_recipient_refused() -> None:
    urls = ["console://", "json://127.0.0.1:9/x"]
    notifier = Notifier({"team": urls, "chat": ["console://"]})
    routes = notifier.routes_for(["team", "chat", "team"])
    assert routes == (
        Route("team", target_key(urls[0])),
        Route("team", target_key(urls[1])),
        Route("chat", target_key("console://")),
    )
    with pytest.raises(ConfigError, match="unknown recipient 'nobody'"):
        notifier.routes_for(["nobody"])


@pytest.mark.parametrize(
    ("url", "fmt"),
    [
        ("mailto://u:p@127.0.0.1:25?from=m@example.com&to=a@example.com", "html"),  # email: HTML
        ("slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7FQ", "markdown"),  # chat
        ("tgram://123456789:abcdefg_hijklmnop/12315544", "markdown"),  # chat
        ("matrix://bot:pw@127.0.0.1:8008/#policy", "markdown"),  # chat accepting all formats
        ("json://127.0.0.1/hook", "text"),  # pass-through webhook
        ("console://", "text"),  # our console plugin
        ("json://127.0.0.1/hook?format=markdown", "markdown"),  # explicit ?format= wins
    ],
)
def test_format_per_target(url: str, fmt: str) -> None:
    notifier = Notifier({"r": [url]})
    (route,) = notifier.routes_for(["r"])
    assert notifier.format_for(route) == fmt


def test_plugin_format_accepts_single_format_plugins() -> None:
    class Old:  # apprise 1.x plugins declare one format as a string
        notify_format = "markdown"

    assert plugin_format(Old()) == "markdown"


# -- Notifier: sending to real receivers -------------------------------------------


def test_email_arrives_with_subject_and_escaped_html() -> None:
    with SMTPReceiver() as smtp:
        notifier = Notifier({"compliance": [smtp.mailto_url(to="team@example.com")]})
        (route,) = notifier.routes_for(["compliance"])
        store = FakeStore([make_alert(1, route, title='Zoom <script>alert("x")</script> exits')])
        report = deliver_due(store, notifier, T0, owner="w1")
    assert report == DeliveryReport(sent=1, failed=0, dead=0)
    (mail,) = smtp.messages
    assert mail.rcpt_tos == ("team@example.com",)
    assert mail.subject == '[zoom-china] Zoom <script>alert("x")</script> exits'
    html = mail.body("html")
    assert html is not None and "<script>" not in html
    assert "&lt;script&gt;" in html and ">Zoom</mark>" in html
    assert "https://thehill.com/tech/1" in html and "The Hill" in html
    assert store.rows[1].status == "sent" and store.rows[1].sent_at == T0


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_email_with_credentials_and_text_format() -> None:
    with SMTPReceiver(credentials=("monitor", "Sm7p-Pa55word")) as smtp:
        url = smtp.mailto_url() + "&format=text"
        notifier = Notifier({"c": [url]})
        (route,) = notifier.routes_for(["c"])
        notifier.send_rendered(route, render_test_message("c"))
    (mail,) = smtp.messages
    assert mail.body("html") is None
    assert "test message" in (mail.body("plain") or "")


def test_smtp_failure_never_reveals_the_password(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    url = (
        f"mailto://monitor:Pw-9x7Secret@127.0.0.1:{closed_port()}"
        "?mode=insecure&from=m@example.com&to=t@example.com"
    )
    notifier = Notifier({"c": [url]})
    (route,) = notifier.routes_for(["c"])
    store = FakeStore([make_alert(1, route)])
    report = deliver_due(store, notifier, T0, owner="w1", rng=random.Random(0))
    assert report == DeliveryReport(sent=0, failed=1, dead=0)
    error = store.rows[1].last_error or ""
    assert error.startswith("recipients.c[0]: ") and "127.0.0.1" in error
    assert "Pw-9x7Secret" not in error and "Pw-9x7Secret" not in caplog.text
    with pytest.raises(DeliveryError) as info:
        notifier.send(route, "t", "b")
    assert "Pw-9x7Secret" not in str(info.value)


def test_smtp_rejection_is_retried_then_delivered_once() -> None:
    with SMTPReceiver(fail_first=1) as smtp:
        notifier = Notifier({"c": [smtp.mailto_url()]})
        (route,) = notifier.routes_for(["c"])
        store = FakeStore([make_alert(1, route)])
        first = deliver_due(store, notifier, T0, owner="w1", rng=random.Random(0))
        second = deliver_due(store, notifier, store.rows[1].next_attempt_at, owner="w1")
        assert len(smtp.wait_for(1, timeout=1)) == 1
    assert first == DeliveryReport(failed=1) and second == DeliveryReport(sent=1)
    assert smtp.attempts == 2 and len(smtp.messages) == 1


def test_webhook_receives_title_and_body() -> None:
    with WebhookReceiver() as hook:
        notifier = Notifier({"ops": [hook.json_url("/alerts")]})
        (route,) = notifier.routes_for(["ops"])
        deliver_due(FakeStore([make_alert(1, route)]), notifier, T0, owner="w1")
        assert [r.path for r in hook.wait_for(1, timeout=1)] == ["/alerts"]
    (request,) = hook.requests
    assert request.method == "POST" and request.path == "/alerts"
    assert request.json["title"] == "[zoom-china] Zoom exits mainland China"
    assert request.json["message"].startswith("«Zoom» exits mainland China\nThe Hill · published")
    assert "read: https://thehill.com/tech/1" in request.json["message"]


def test_webhook_500_raises_delivery_error_with_reason() -> None:
    with WebhookReceiver(fail_first=1) as hook:
        notifier = Notifier({"ops": [hook.json_url() + "?token=Tok3nValue99"]})
        (route,) = notifier.routes_for(["ops"])
        with pytest.raises(DeliveryError) as info:
            notifier.send(route, "title", "body")
        notifier.send(route, "title", "body")  # the receiver recovered
    assert "500" in str(info.value) and "recipients.ops[0]" in str(info.value)
    assert "Tok3nValue99" not in str(info.value)
    assert [r.status for r in hook.requests] == [500, 200]


def test_throttled_notifier_reuses_one_apprise_object_per_target() -> None:
    with WebhookReceiver() as hook:
        notifier = Notifier({"ops": [hook.json_url()]}, throttle=True)
        (route,) = notifier.routes_for(["ops"])
        notifier.send(route, "one", "1")
        notifier.send(route, "two", "2")  # json:// has no apprise throttle: no sleep
    assert [r.json["title"] for r in hook.requests] == ["one", "two"]


def test_a_fresh_apprise_object_only_for_plugins_that_pace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """apprise sleeps between two sends through one email plugin (5.5 s): each email
    takes a fresh object; a webhook's plugin does not pace, so its object is reused."""
    import monitor.alerts.notifier as notifier_module

    fresh: list[str] = []
    real = notifier_module._fresh_apprise

    def counted(url: str, asset: Any) -> Any:
        fresh.append(url.split(":", 1)[0])
        return real(url, asset)

    monkeypatch.setattr(notifier_module, "_fresh_apprise", counted)
    with WebhookReceiver() as hook, SMTPReceiver() as smtp:
        notifier = Notifier({"ops": [hook.json_url()], "mail": [smtp.mailto_url()]})
        (hook_route,) = notifier.routes_for(["ops"])
        (mail_route,) = notifier.routes_for(["mail"])
        for n in range(2):
            notifier.send(hook_route, f"hook {n}", "body")
            notifier.send(mail_route, f"mail {n}", "body")
        assert len(smtp.wait_for(2, timeout=5)) == 2
    assert [r.json["title"] for r in hook.requests] == ["hook 0", "hook 1"]
    assert fresh == ["mailto", "mailto"]


def test_a_target_sends_on_while_the_previous_outcome_is_written() -> None:
    """The database (whose write lock the ingest may hold) does not space a target's
    sends: the next one is under way before the last one's outcome is written."""

    class SlowStore(FakeStore):
        def __init__(self, alerts: list[AlertToSend], hook: WebhookReceiver) -> None:
            super().__init__(alerts)
            self.hook = hook
            self.delivered_before: list[int] = []

        def mark_alerts_sent(self, alert_ids: Sequence[int], now: datetime, *,
                             joining: Callable[[], Sequence[int]] | None = None) -> None:
            # Waits for the next send (bounded, so the old order fails rather than hangs).
            self.delivered_before.append(len(self.hook.wait_for(min(max(alert_ids) + 1, 3),
                                                                timeout=2)))
            super().mark_alerts_sent(alert_ids, now, joining=joining)

    with WebhookReceiver() as hook:
        notifier = Notifier({"ops": [hook.json_url()]})
        (route,) = notifier.routes_for(["ops"])
        store = SlowStore([make_alert(i, route) for i in (1, 2, 3)], hook)
        report = deliver_due(store, notifier, T0, owner="w1")
    assert report.sent == 3 and {r.status for r in store.rows.values()} == {"sent"}
    # When alert 1's outcome was written, alert 2 had been delivered already.
    assert store.delivered_before[0] == 2


def test_a_send_that_ends_while_the_last_outcome_waits_for_the_database_is_written_with_it(
) -> None:
    """One write for both (the database's write lock is the scarce part while an ingest
    runs), and no third send starts before it: at most two are unrecorded at a crash."""

    class SlowStore(FakeStore):
        def __init__(self, alerts: list[AlertToSend], hook: WebhookReceiver) -> None:
            super().__init__(alerts)
            self.hook = hook
            self.writes: list[tuple[list[int], list[int], int]] = []

        def mark_alerts_sent(self, alert_ids: Sequence[int], now: datetime, *,
                             joining: Callable[[], Sequence[int]] | None = None) -> None:
            # The write waits (behind an ingest batch) until the next send is delivered.
            self.hook.wait_for(min(max(alert_ids) + 1, 4), timeout=5)
            time.sleep(0.05)  # its outcome reaches the pool
            joined = list(joining()) if joining else []
            self.writes.append((list(alert_ids), joined, len(self.hook.delivered)))
            super().mark_alerts_sent([*alert_ids, *joined], now)

    with WebhookReceiver() as hook:
        notifier = Notifier({"ops": [hook.json_url()]})
        (route,) = notifier.routes_for(["ops"])
        store = SlowStore([make_alert(i, route) for i in (1, 2, 3, 4)], hook)
        report = deliver_due(store, notifier, T0, owner="w1")
    assert report.sent == 4 and {r.status for r in store.rows.values()} == {"sent"}
    # Alert 2 ended while alert 1's write waited: written with it; alert 3 was not
    # started meanwhile (two delivered when the write was made), and so on.
    assert store.writes == [([1], [2], 2), ([3], [4], 4)]


def test_failed_alert_is_rescheduled_by_next_retry_at() -> None:
    with WebhookReceiver(fail_first=1) as hook:
        notifier = Notifier({"ops": [hook.json_url()]})
        (route,) = notifier.routes_for(["ops"])
        store = FakeStore([make_alert(1, route)])
        report = deliver_due(store, notifier, T0, owner="w1", rng=random.Random(5))
        row = store.rows[1]
        assert report == DeliveryReport(sent=0, failed=1, dead=0)
        assert row.status == "pending" and "500" in (row.last_error or "")
        assert row.next_attempt_at == next_retry_at(1, T0, rng=random.Random(5))
        # Not due yet: nothing is sent before the retry time.
        early = deliver_due(store, notifier, T0 + timedelta(seconds=10), owner="w1")
        assert early == DeliveryReport()
        later = row.next_attempt_at
        assert deliver_due(store, notifier, later, owner="w1") == DeliveryReport(sent=1)
    assert row.status == "sent" and row.sent_at == later
    assert len(hook.delivered) == 1 and len(hook.requests) == 2


def test_dead_after_max_attempts_with_last_error_kept() -> None:
    policy = RetryPolicy(base_s=30, cap_s=3600, max_attempts=3)
    with WebhookReceiver(fail_first=100) as hook:
        notifier = Notifier({"ops": [hook.json_url()]})
        (route,) = notifier.routes_for(["ops"])
        store = FakeStore([make_alert(1, route)])
        row, now, reports = store.rows[1], T0, []
        while row.status == "pending":
            rng = random.Random(2)
            reports.append(deliver_due(store, notifier, now, owner="w1", policy=policy, rng=rng))
            now = row.next_attempt_at
    assert reports == [DeliveryReport(failed=1), DeliveryReport(failed=1), DeliveryReport(dead=1)]
    assert row.status == "dead" and row.alert.attempts == 3 and "500" in (row.last_error or "")
    assert len(hook.requests) == 3
    gaps = [(b - a).total_seconds() for a, b in zip(row.fail_times, row.fail_times[1:])]
    assert 24 <= gaps[0] <= 36 and 48 <= gaps[1] <= 72  # the backoff schedule


def test_partial_failure_never_resends_to_the_target_that_succeeded() -> None:
    with WebhookReceiver() as good, WebhookReceiver(fail_first=1) as flaky:
        notifier = Notifier({"team": [good.json_url("/good"), flaky.json_url("/flaky")]})
        good_route, flaky_route = notifier.routes_for(["team"])
        store = FakeStore([make_alert(1, good_route), make_alert(2, flaky_route)])
        first = deliver_due(store, notifier, T0, owner="w1", rng=random.Random(0))
        retry_at = store.rows[2].next_attempt_at
        second = deliver_due(store, notifier, retry_at, owner="w1")
    assert first == DeliveryReport(sent=1, failed=1) and second == DeliveryReport(sent=1)
    assert len(good.requests) == 1  # not resent on the retry
    assert [r.status for r in flaky.requests] == [500, 200]
    assert store.rows[1].sent_at == T0 and store.rows[2].sent_at == retry_at


def test_target_no_longer_configured_is_a_recorded_failure() -> None:
    notifier = Notifier({"team": ["console://"]})
    store = FakeStore([make_alert(1, Route("team", "0000000000000000"))])
    report = deliver_due(store, notifier, T0, owner="w1", rng=random.Random(0))
    assert report == DeliveryReport(failed=1)
    assert "no longer configured" in (store.rows[1].last_error or "")


def test_deliver_due_passes_owner_and_limit_to_the_claim() -> None:
    store = FakeStore([])
    deliver_due(store, Notifier({}), T0, owner="replica-2", limit=7)
    assert store.claims == [(T0, "replica-2", 7)]


def test_console_prints_the_alert(capsys: pytest.CaptureFixture[str]) -> None:
    notifier = Notifier({"me": ["console://"]})
    (route,) = notifier.routes_for(["me"])
    deliver_due(FakeStore([make_alert(1, route)]), notifier, T0, owner="w1")
    out = capsys.readouterr().out
    assert out.startswith("=" * 72 + "\n[zoom-china] Zoom exits mainland China\n")
    assert "The Hill · published 2026-11-26 13:45 UTC" in out and "«Zoom»" in out


def test_console_module_can_be_imported_again() -> None:
    import importlib

    import monitor.alerts.console as console

    importlib.reload(console)
    notifier = Notifier({"me": ["console://"]})
    assert notifier.problems() == []


def test_render_bug_does_not_lose_the_alert(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(alert: Any) -> Any:
        raise ValueError("template exploded")

    monkeypatch.setattr("monitor.alerts.policy.render_alert", broken)
    notifier = Notifier({"me": ["console://"]})
    (route,) = notifier.routes_for(["me"])
    store = FakeStore([make_alert(1, route)])
    assert deliver_due(store, notifier, T0, owner="w1") == DeliveryReport(failed=1)
    assert "internal error: ValueError: template exploded" in (store.rows[1].last_error or "")
