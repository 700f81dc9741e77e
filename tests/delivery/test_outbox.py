"""The outbox with a real Store (SQLite and PostgreSQL) and a real local webhook receiver.

The clock is injected: each pass runs at a chosen ``now``; nothing sleeps.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from receivers import WebhookReceiver

from monitor.alerts.digest import RulePolicy, Schedule
from monitor.alerts.drain import DeliveryReport, claim_digests, deliver_due
from monitor.alerts.notifier import Notifier
from monitor.alerts.policy import RetryPolicy, RuleDelivery
from monitor.article import Article, FeedSpec, Hit, Match
from monitor.store.pages import PageRecord
from monitor.store.repo import Store

T0 = datetime(2026, 11, 26, 10, 15, tzinfo=UTC)
FEED = FeedSpec(url="http://127.0.0.1/feed.xml", name="Local Feed")


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    s = Store.open(db_url)
    yield s
    s.close()


def seed(store: Store, notifier: Notifier, n: int, *, rule: str = "zoom", at: datetime = T0,
         start: int = 0) -> None:
    """n new articles, each matching ``rule``, routed to the recipient 'team'."""
    store.sync_feeds([FEED], at)
    (feed,) = store.claim_due_feeds(at, owner="setup", include_not_due=True)
    store.record_fetch(feed.id, now=at, next_poll_at=at, status=200, error=None)
    items = []
    for i in range(start, start + n):
        art = Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key=f"k{i}",
                      guid=f"k{i}", link=f"https://news.example/{i}",
                      canonical_url=f"https://news.example/{i}", title=f"Story {i}",
                      summary=f"Zoom news number {i}", published=at - timedelta(minutes=n - i))
        match = Match(rule=rule, hits=(Hit("Zoom", "summary", 0, 4, "Zoom"),),
                      snippet=f"«Zoom» news number {i}")
        items.append((art, [match]))
    routes = {rule: notifier.routes_for(["team"])}
    assert store.save_articles(feed.id, items, routes, at).new_alerts == n


def titles(hook: WebhookReceiver) -> list[str]:
    return [r.json["title"] for r in hook.delivered]


def test_failures_are_retried_on_the_backoff_schedule_and_arrive_once(store: Store) -> None:
    with WebhookReceiver(fail_first=2) as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 3)
        policy = RetryPolicy(base_s=30, cap_s=3600, max_attempts=5)
        rng = random.Random(1)
        first = deliver_due(store, notifier, T0, owner="w", policy=policy, rng=rng)
        assert first == DeliveryReport(sent=1, failed=2)
        # The first retry waits ~30 s (jitter 0.8-1.2): not due after 23 s, due after 37 s.
        assert deliver_due(store, notifier, T0 + timedelta(seconds=23), owner="w") == (
            DeliveryReport())
        assert deliver_due(store, notifier, T0 + timedelta(seconds=37), owner="w",
                           policy=policy) == DeliveryReport(sent=2)
        assert deliver_due(store, notifier, T0 + timedelta(hours=5), owner="w") == (
            DeliveryReport())
        assert Counter(titles(hook)) == Counter({"[zoom] Story 0": 1, "[zoom] Story 1": 1,
                                                 "[zoom] Story 2": 1})
    assert {a.status for a in store.list_alerts()} == {"sent"}


def test_backoff_doubles_then_the_alert_is_dead_with_its_error(store: Store) -> None:
    with WebhookReceiver(fail_first=1000) as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 1)
        policy = RetryPolicy(base_s=30, cap_s=100, max_attempts=4)
        now, gaps = T0, []
        for _ in range(4):
            report = deliver_due(store, notifier, now, owner="w", policy=policy,
                                 rng=random.Random(0))
            assert report.sent == 0
            # Find the retry time by probing: the smallest whole second at which it is due.
            if report.dead:
                break
            gap = next(s for s in range(1, 200) if _due(store, now + timedelta(seconds=s)))
            gaps.append(gap)
            now += timedelta(seconds=gap)
        assert len(hook.requests) == 4
        # 30 s, 60 s, then capped at 100 s (each times the same jitter of Random(0)).
        j = random.Random(0).uniform(0.8, 1.2)
        assert gaps == [int(-(-30 * j // 1)), int(-(-60 * j // 1)), 100]
    (dead,) = store.list_alerts(status="dead")
    assert dead.attempts == 4 and "500" in (dead.last_error or "")


def _due(store: Store, now: datetime) -> bool:
    claimed = store.claim_due_alerts(now, owner="probe", lease_s=0)
    return bool(claimed)


def test_alerts_older_than_max_age_die_instead_of_retrying(store: Store) -> None:
    with WebhookReceiver(fail_first=1000) as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 1)
        policy = RetryPolicy(base_s=600, max_attempts=100, max_age_s=300)
        assert deliver_due(store, notifier, T0, owner="w", policy=policy).dead == 1


def test_digest_window_is_claimed_once_and_lists_newest_first_with_more(store: Store) -> None:
    rules = RuleDelivery(policies={"zoom": RulePolicy(mode="digest",
                                                      schedule=Schedule.every(3600))},
                         digest_max_items=20)
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 25)
        assert deliver_due(store, notifier, T0, owner="w", rules=rules).held == 25
        assert claim_digests(store, rules, T0 + timedelta(minutes=44)) == 0  # 10:59
        eleven = datetime(2026, 11, 26, 11, tzinfo=UTC)
        assert claim_digests(store, rules, eleven) == 1
        assert claim_digests(store, rules, eleven) == 0  # a second replica: nothing to claim
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
        assert deliver_due(store, notifier, eleven + timedelta(hours=2), owner="w",
                           rules=rules) == DeliveryReport()
        (msg,) = hook.delivered
    body = msg.json["message"]
    assert msg.json["title"] == "[zoom] 25 new matches"
    assert body.index("Story 24") < body.index("Story 23") < body.index("Story 5")
    assert "Story 4\n" not in body and body.endswith("… and 5 more")
    kinds = Counter((a.kind, a.status) for a in store.list_alerts())
    assert kinds == Counter({("match", "digested"): 25, ("digest", "sent"): 1})


def test_max_per_hour_rolls_the_rest_into_the_next_digest(store: Store) -> None:
    rules = RuleDelivery(policies={"zoom": RulePolicy(max_per_hour=2)})
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 5)
        report = deliver_due(store, notifier, T0, owner="w", rules=rules, limit=100)
        assert (report.sent, report.held) == (2, 3)
        seed(store, notifier, 1, at=T0 + timedelta(minutes=5), start=5)
        assert deliver_due(store, notifier, T0 + timedelta(minutes=5), owner="w",
                           rules=rules).held == 1
        eleven = datetime(2026, 11, 26, 11, tzinfo=UTC)
        assert claim_digests(store, rules, eleven) == 1
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
        assert titles(hook)[-1] == "[zoom] 4 new matches"
        assert len(hook.delivered) == 3


def test_a_held_row_arriving_after_its_window_was_claimed_goes_in_the_next(store: Store) -> None:
    rules = RuleDelivery(policies={"zoom": RulePolicy(mode="digest")})
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 1)
        deliver_due(store, notifier, T0, owner="w", rules=rules)
        eleven = datetime(2026, 11, 26, 11, tzinfo=UTC)
        assert claim_digests(store, rules, eleven) == 1
        seed(store, notifier, 1, at=T0 + timedelta(minutes=30), start=1)  # created 10:45
        deliver_due(store, notifier, eleven + timedelta(seconds=1), owner="w", rules=rules)
        assert claim_digests(store, rules, eleven + timedelta(seconds=2)) == 0
        assert claim_digests(store, rules, eleven + timedelta(hours=1)) == 1
        deliver_due(store, notifier, eleven + timedelta(hours=1), owner="w", rules=rules)
        assert titles(hook) == ["[zoom] 1 new match", "[zoom] 1 new match"]


@pytest.mark.postgres
def test_two_workers_in_parallel_never_send_a_row_twice(pg_url: str) -> None:
    with Store.open(pg_url) as store, WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 120)
        barrier = threading.Barrier(2)
        reports: list[DeliveryReport] = []

        def worker(name: str) -> None:
            barrier.wait()
            while True:
                report = deliver_due(store, notifier, T0, owner=name, limit=5)
                if report == DeliveryReport():
                    return
                reports.append(report)

        threads = [threading.Thread(target=worker, args=(f"w{i}",)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts = Counter(titles(hook))
        assert len(counts) == 120 and set(counts.values()) == {1}
        assert sum(r.sent for r in reports) == 120


def test_a_retry_falling_in_quiet_hours_is_held_until_they_end(store: Store) -> None:
    from monitor.alerts.digest import QuietHours

    quiet = QuietHours.parse("22:00", "07:00")
    rules = RuleDelivery(policies={"zoom": RulePolicy(quiet=quiet)})
    evening = datetime(2026, 11, 26, 21, 59, tzinfo=UTC)
    with WebhookReceiver(fail_first=1) as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 1, at=evening)
        assert deliver_due(store, notifier, evening, owner="w", rules=rules,
                           rng=random.Random(0)).failed == 1
        retry = evening + timedelta(minutes=5)  # 22:04: quiet now
        assert deliver_due(store, notifier, retry, owner="w", rules=rules).held == 1
        assert claim_digests(store, rules, datetime(2026, 11, 27, 6, 59, tzinfo=UTC)) == 0
        seven = datetime(2026, 11, 27, 7, tzinfo=UTC)
        assert claim_digests(store, rules, seven) == 1
        assert deliver_due(store, notifier, seven, owner="w", rules=rules).sent == 1
        assert titles(hook) == ["[zoom] 1 new match"]


def test_templated_html_digest_email_escapes_feed_content(store: Store) -> None:
    from receivers import SMTPReceiver

    from monitor.alerts.templates import RuleTemplate

    template = RuleTemplate.compile("zoom", {
        "title": "{{ rule }} digest: {{ matches|length }} (+{{ more_count }})",
        "html": "<ul>{% for m in matches %}<li><a href=\"{{ m.url }}\">{{ m.title }}</a>"
                "</li>{% endfor %}</ul><img src=x>",
    })
    rules = RuleDelivery(policies={"zoom": RulePolicy(mode="digest")},
                         templates={"zoom": template}, digest_max_items=2)
    with SMTPReceiver() as smtp:
        notifier = Notifier({"team": [smtp.mailto_url(to="team@example.com")]})
        seed(store, notifier, 3)
        with store._engine.begin() as conn:  # a hostile feed title
            conn.exec_driver_sql("UPDATE article SET title = '<script>x()</script>'"
                                 " WHERE key = 'k2'")
        deliver_due(store, notifier, T0, owner="w", rules=rules)
        eleven = datetime(2026, 11, 26, 11, tzinfo=UTC)
        claim_digests(store, rules, eleven)
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
    (mail,) = smtp.messages
    assert mail.subject == "zoom digest: 2 (+1)"
    html = mail.body("html") or ""
    assert "<script>" not in html and "&lt;script&gt;x()&lt;/script&gt;" in html
    assert html.index("&lt;script&gt;") < html.index("Story 1")  # newest first
    assert "<img src=x>" in html  # the template's own markup is kept


@pytest.mark.postgres
def test_replicas_claiming_one_digest_window_at_once_build_it_once(pg_url: str) -> None:
    rules = RuleDelivery(policies={"zoom": RulePolicy(mode="digest")})
    eleven = datetime(2026, 11, 26, 11, tzinfo=UTC)
    with Store.open(pg_url) as store, WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        seed(store, notifier, 30)
        deliver_due(store, notifier, T0, owner="w", rules=rules)
        barrier = threading.Barrier(4)
        made: list[int] = []

        def replica() -> None:
            with Store.open(pg_url, migrate=False) as own:
                barrier.wait()
                made.append(claim_digests(own, rules, eleven))

        threads = [threading.Thread(target=replica) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(made) == [0, 0, 0, 1]
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
        assert titles(hook) == ["[zoom] 30 new matches"]


# -- digests list matches by the entry's own date (published, else updated), labelled so

ATOM = FeedSpec(url="http://127.0.0.1/atom.xml", name="Atom Feed")
#: (title, published, updated): fetched and matched together at T0.
ENTRIES = [
    ("Zoom old, updated only", None, datetime(2026, 11, 25, 9, 0, tzinfo=UTC)),
    ("Zoom published", datetime(2026, 11, 26, 8, 0, tzinfo=UTC), None),
    ("Zoom new, updated only", None, datetime(2026, 11, 26, 9, 0, tzinfo=UTC)),
]


def test_digest_sorts_and_labels_by_published_else_updated(store: Store) -> None:
    rules = RuleDelivery(policies={"zoom": RulePolicy(mode="digest",
                                                      schedule=Schedule.every(3600))})
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        store.sync_feeds([ATOM], T0)
        (feed,) = store.claim_due_feeds(T0, owner="setup", include_not_due=True)
        store.record_fetch(feed.id, now=T0, next_poll_at=T0, status=200, error=None)
        items = [(Article(feed_url=ATOM.url, feed_name=ATOM.name, feed_tags=(), key=f"k{i}",
                          guid=f"k{i}", link=f"https://atom.example/{i}", canonical_url=None,
                          title=title, published=published, updated=updated),
                  [Match("zoom", (Hit("Zoom", "title", 0, 4, "Zoom"),), "«Zoom»")])
                 for i, (title, published, updated) in enumerate(ENTRIES)]
        store.save_articles(feed.id, items, {"zoom": notifier.routes_for(["team"])}, T0)
        assert deliver_due(store, notifier, T0, owner="w", rules=rules).held == 3
        eleven = T0 + timedelta(minutes=45)
        assert claim_digests(store, rules, eleven) == 1
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
        (msg,) = hook.delivered
    body = msg.json["message"]
    order = [body.index(f"«Zoom»{title[4:]}") for title, _, _ in ENTRIES]
    assert order[2] < order[1] < order[0]  # newest entry date first, not fetch order
    assert "Atom Feed · updated 2026-11-26 09:00 UTC" in body
    assert "Atom Feed · published 2026-11-26 08:00 UTC" in body
    assert "Atom Feed · updated 2026-11-25 09:00 UTC" in body
    assert "10:15" not in body  # the fetch/match time is never shown as a date


PAGE = ("A federal appeals court on Monday refused to give the company more time, leaving "
        "the divestiture deadline of January 19 in place before the Supreme Court rules.")


def test_a_digest_shows_the_full_text_around_a_teasers_hits(store: Store) -> None:
    """A teaser matched by its page: the digest quotes the page around the hits, as the
    alert would, not the bare hit words."""
    rules = RuleDelivery(policies={"divest": RulePolicy(mode="digest",
                                                        schedule=Schedule.every(3600))})
    with WebhookReceiver() as hook:
        notifier = Notifier({"team": [hook.json_url()]})
        routes = {"divest": notifier.routes_for(["team"])}
        store.sync_feeds([FEED], T0)
        (feed,) = store.claim_due_feeds(T0, owner="setup", include_not_due=True)
        teaser = Article(feed_url=FEED.url, feed_name=FEED.name, feed_tags=(), key="t1",
                         guid="t1", link="https://news.example/court",
                         canonical_url="https://news.example/court", title="Court rules",
                         summary="A court ruled on Monday.", published=T0)
        store.save_articles(feed.id, [(teaser, [])], routes, T0, pages={"t1"})
        (job,) = store.claim_new_pages(feed.id, ["t1"], T0, lease_s=120)
        start = PAGE.index("divestiture deadline")
        hits = (Hit("divestiture", "fulltext", start, start + 11, "divestiture"),
                Hit("deadline", "fulltext", start + 12, start + 20, "deadline"))
        page = PageRecord(job.article_id, T0, "done", text=PAGE, http_status=200)
        assert store.record_pages([(page, [Match("divest", hits, "s")])], routes) == (1, 1)
        assert deliver_due(store, notifier, T0, owner="w", rules=rules).held == 1
        eleven = datetime(2026, 11, 26, 11, tzinfo=UTC)
        assert claim_digests(store, rules, eleven) == 1
        assert deliver_due(store, notifier, eleven, owner="w", rules=rules).sent == 1
        (msg,) = hook.delivered
    assert msg.json["title"] == "[divest] 1 new match"
    body = msg.json["message"]
    assert ("In the full article (from its page): A federal appeals court on Monday refused "
            "to give the company more time, leaving the «divestiture» «deadline» of January "
            "19 in place") in body, body
