"""/livez, /readyz and /metrics through a real listening server (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import re
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from websites import Site

from monitor.store import db
from monitor.store.repo import Store
from monitor.web.app import make_app
from monitor.web.state import STATE

NAMES = ("newsmonitor_feed_polls_total", "newsmonitor_feed_poll_duration_seconds_bucket",
         "newsmonitor_articles_new_total", "newsmonitor_rule_matches_total",
         "newsmonitor_alerts_total", "newsmonitor_outbox_pending",
         "newsmonitor_outbox_oldest_pending_age_seconds", "newsmonitor_feeds",
         "newsmonitor_last_poll_timestamp_seconds", "newsmonitor_build_info")


@pytest.fixture
def site(db_url: str, tmp_path: Path):  # type: ignore[no-untyped-def]
    with Site(db_url, tmp_path) as s:
        yield s


def _samples(body: str) -> dict[str, float]:
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in body.splitlines() if line and not line.startswith("#")}


def test_livez_answers_without_checking_anything(site: Site) -> None:
    assert site.call("GET", "/livez")[::2] == (200, "ok\n")
    status, _, body = site.call("GET", "/livez?verbose")
    assert status == 200 and "[+]loop ok" in body


def test_readyz_checks_database_schema_and_poll_tick(site: Site) -> None:
    status, _, body = site.call("GET", "/readyz?verbose")
    assert status == 200, body
    (head,) = db.script_heads()
    assert "[+]database ok" in body and f"[+]schema ok: at {head}" in body
    assert "[+]poll ok" in body
    tick = site.settings.poll.tick_s
    site.monitor.last_tick_at = site.monitor.clock() - timedelta(seconds=2 * tick)
    assert site.call("GET", "/readyz")[0] == 200  # within three ticks
    site.monitor.last_tick_at = site.monitor.clock() - timedelta(seconds=3 * tick + 5)
    status, _, body = site.call("GET", "/readyz?verbose")
    assert status == 503 and "[-]poll failed: last tick" in body
    assert site.call("GET", "/readyz")[::2] == (503, "not ready\n")
    # A long pass under way is alive until it outlives the feed lease.
    site.monitor.polling_since = site.monitor.clock() - timedelta(seconds=60)
    status, _, body = site.call("GET", "/readyz?verbose")
    assert status == 200 and "[+]poll ok: a pass running for" in body
    site.monitor.polling_since = site.monitor.clock() - timedelta(
        seconds=site.monitor.lease_s + 5)
    assert site.call("GET", "/readyz")[0] == 503


def test_readyz_fails_when_the_schema_is_behind(site: Site) -> None:
    engine = db.make_engine(site.db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0003'"))
    engine.dispose()
    status, _, body = site.call("GET", "/readyz?verbose")
    (head,) = db.script_heads()
    assert status == 503 and f"[-]schema failed: at 0003, newest is {head}" in body


def test_readyz_fails_without_saying_where_the_database_is(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres:pw-secret-123@127.0.0.1:1/nowhere?connect_timeout=2"
    store = Store(db.make_engine(url), url)
    with Site("sqlite:///" + str(tmp_path / "x.db"), tmp_path) as site:
        app = make_app(lambda: site.settings, store)

        async def probe() -> tuple[int, str]:
            from aiohttp.test_utils import TestClient, TestServer

            async with TestClient(TestServer(app)) as client:
                response = await client.get("/readyz?verbose")
                return response.status, await response.text()

        status, body = asyncio.run(probe())
    assert status == 503 and "[-]database failed: unreachable" in body
    assert "pw-secret" not in body and "nowhere" not in body and "5432" not in body


def test_metrics_need_a_token_and_every_series_starts_at_zero(site: Site) -> None:
    assert site.call("GET", "/metrics")[0] == 401
    status, headers, body = site.call("GET", "/metrics", token=site.read)
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    for name in NAMES:
        assert re.search(rf"^{name}[{{ ]", body, re.MULTILINE), name
    values = _samples(body)
    for result in ("ok", "not_modified", "error"):
        assert values[f'newsmonitor_feed_polls_total{{result="{result}"}}'] == 0
    for result in ("sent", "failed", "dead"):
        assert values[f'newsmonitor_alerts_total{{result="{result}"}}'] == 0
    for rule in ("zoom-china", "weather"):  # configured rules exist at zero
        assert values[f'newsmonitor_rule_matches_total{{rule="{rule}"}}'] == 0
    assert values["newsmonitor_articles_new_total"] == 0
    # Gauges read the database, which the fixture's poll filled.
    pending = len(site.monitor.store.list_alerts(status="pending"))  # poll.backlog decides
    assert pending > 0 and values["newsmonitor_outbox_pending"] == pending
    assert values['newsmonitor_feeds{state="ok"}'] == 1
    assert values['newsmonitor_feeds{state="failing"}'] == 1
    assert values['newsmonitor_feeds{state="disabled"}'] == 0
    assert values["newsmonitor_last_poll_timestamp_seconds"] > 1.7e9
    assert values["newsmonitor_outbox_oldest_pending_age_seconds"] >= 0


def test_metrics_count_what_the_daemon_does_and_hold_no_urls(site: Site) -> None:
    site.feeds.add("/world.xml", site.feeds.routes["/world.xml"].body.replace(
        b"</channel>", b"<item><title>Heavy rain in Zoom town, China</title>"
        b"<link>https://news.example/rain</link><guid>a4</guid></item></channel>"),
        headers={"Content-Type": "application/rss+xml"})
    asyncio.run(site.monitor.poll(all_feeds=True))
    pending = len(site.monitor.store.list_alerts(status="pending"))
    site.monitor.deliver()  # the hook at 127.0.0.1:9 refuses: failed
    values = _samples(site.call("GET", "/metrics", token=site.read)[2])
    assert values['newsmonitor_feed_polls_total{result="ok"}'] == 1
    assert values['newsmonitor_feed_polls_total{result="error"}'] == 1
    assert values["newsmonitor_articles_new_total"] == 1
    assert values['newsmonitor_rule_matches_total{rule="weather"}'] == 1
    assert values['newsmonitor_rule_matches_total{rule="zoom-china"}'] == 1
    assert values["newsmonitor_feed_poll_duration_seconds_count"] == 2
    assert pending > 0 and values['newsmonitor_alerts_total{result="failed"}'] == pending
    for series in values:
        assert "http" not in series and "127.0.0.1" not in series, series


def test_public_metrics_serve_anonymous_scrapers(db_url: str, tmp_path: Path) -> None:
    with Site(db_url, tmp_path, public_metrics=True) as site:
        status, _, body = site.call("GET", "/metrics")
        assert status == 200 and "newsmonitor_build_info{" in body
        assert site.call("GET", "/api/v1/matches")[0] == 401  # only metrics opened


def test_metrics_count_requests_held_back_while_a_poll_pass_runs(site: Site) -> None:
    names = ("newsmonitor_web_paced_requests_total", "newsmonitor_web_paced_wait_seconds_total")
    values = _samples(site.call("GET", "/metrics", token=site.read)[2])
    assert [values[n] for n in names] == [0, 0]  # present from the start
    monitor = site.monitor
    http = monitor.settings.http.model_copy(update={"cpu_while_polling": 0.01})
    monitor.settings = monitor.settings.model_copy(update={"http": http})
    monitor.polling_since = monitor.clock()  # a pass runs: requests take turns
    pacer = site.app[STATE].pacer
    assert pacer is not None
    for _ in range(500):  # the burst (0.05 CPU s) spent, a request waits
        assert site.call("GET", "/api/v1/matches", token=site.read)[0] == 200
        if pacer.waits:
            break
    monitor.polling_since = None
    values = _samples(site.call("GET", "/metrics", token=site.read)[2])
    assert values[names[0]] == pacer.waits >= 1
    assert values[names[1]] == pytest.approx(pacer.waited_s) and pacer.waited_s > 0
