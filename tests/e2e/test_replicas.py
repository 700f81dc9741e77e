"""Scale-out: three `news-monitor run` processes share one PostgreSQL schema over a
local farm of 200 feeds with new items arriving; one replica is SIGKILLed while it
holds leases. Every article is stored once, every match alerted once, and the dead
replica's feeds are taken over when its leases expire."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from daemon import kill_daemon, start_daemon, stop_daemon, wait_until
from farm import Farm
from feedserver import FeedServer
from receivers import WebhookReceiver
from sqlalchemy import create_engine, text

from monitor.store import db

FEEDS = 200

# The delivery lease outlasts a send on a loaded machine: a lease that runs out during
# a slow send lets another replica send the same alert (seen at load 8-12 with 3 s).
CONFIG = """
poll: {{interval: 1s, tick: 1s, lease: 3s, timeout: 2s, jitter: 0, concurrency: 20,
        per_host: 50}}
delivery: {{tick: 1s, lease: 10s}}
feeds:
{feeds}
recipients:
  hook: ["{hook}"]
rules:
  - {{name: alpha, query: alpha, notify: [hook], alert_per: article}}
"""


def start(config: Path, pg_url: str, log: Path) -> subprocess.Popen[bytes]:
    return start_daemon(config, log, db_url=pg_url)


def test_three_replicas_one_killed(tmp_path: Path, pg_url: str) -> None:
    db.upgrade(pg_url)  # as `news-monitor db upgrade` would before a rollout
    engine = create_engine(pg_url)

    def scalar(sql: str, **params: object) -> Any:
        with engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    with FeedServer() as server, WebhookReceiver() as hook:
        farm = Farm(server, FEEDS)
        farm.add(40)  # a backlog before anyone starts
        config = tmp_path / "monitor.yaml"
        config.write_text(CONFIG.format(
            feeds="\n".join(f'  - {{url: "{farm.url(i)}"}}' for i in range(FEEDS)),
            hook=hook.json_url("/hook")), encoding="utf-8")
        replicas = [start(config, pg_url, tmp_path / f"replica{i}.log") for i in range(3)]
        stop = threading.Event()

        def publish() -> None:
            while not stop.wait(0.2):
                farm.add(5)

        publisher = threading.Thread(target=publish, daemon=True)
        publisher.start()
        try:
            victim = replicas[0]
            owned = f"lease_owner LIKE '%:{victim.pid}:%'"
            wait_until(lambda: scalar(f"SELECT count(*) FROM feed WHERE {owned}") > 0,
                       "the victim to hold leases", guard_s=60)
            kill_daemon(victim)
            killed_at = datetime.now(UTC)
            orphans = scalar(f"SELECT array_agg(id) FROM feed WHERE {owned}") or []
            # Alerts it had claimed: it may have sent one and died before recording
            # it, so that one may go out twice (delivery is at-least-once).
            in_flight = set(scalar(
                "SELECT array_agg(a.title) FROM alert JOIN match m ON m.id = alert.match_id"
                f" JOIN article a ON a.id = m.article_id WHERE alert.{owned}") or [])
            time.sleep(3)  # more items arrive while the orphaned leases run out
            stop.set()
            publisher.join()
            expected = len(farm.published)
            wait_until(lambda: scalar("SELECT count(*) FROM article") >= expected,
                       "every published item to be stored", guard_s=60)
            alpha = [t for t in farm.published if t.endswith(" alpha")]
            wait_until(lambda: len(hook.delivered) >= len(alpha), "every alert", guard_s=60)
            time.sleep(1.5)  # a late duplicate, if any, would arrive now
        finally:
            stop.set()
            for r in replicas[1:]:
                r.send_signal(signal.SIGTERM)  # all at once: they stop side by side
            for r in replicas[1:]:
                r.wait(timeout=60)
        titles = [r.json["title"] for r in hook.delivered]
        stored = scalar("SELECT count(*) FROM article")
        distinct = scalar("SELECT count(DISTINCT key) FROM article")
        matches = scalar("SELECT count(*) FROM match")
        taken_over = scalar(
            "SELECT count(*) FROM feed WHERE id = ANY(:ids) AND last_polled_at > :t",
            ids=list(orphans), t=killed_at)
        leftover = scalar(f"SELECT count(*) FROM feed WHERE {owned}")
    engine.dispose()
    assert stored == distinct == expected  # each article once
    assert matches == len(alpha)
    sent = Counter(titles)
    assert set(sent) == {f"[alpha] {t}" for t in alpha}  # every match alerted
    twice = {t for t, n in sent.items() if n > 1}
    assert twice <= {f"[alpha] {t}" for t in in_flight}  # once, but for the victim's claims
    assert orphans and taken_over == len(orphans)
    assert leftover == 0
    for r in replicas[1:]:
        assert r.returncode == 0, (tmp_path / "replica1.log").read_text()[-2000:]


def test_sigterm_during_a_migration_leaves_the_old_schema_and_a_restart_migrates(
    tmp_path: Path, pg_url: str
) -> None:
    """A rollout stopped mid-migration: the migration is one transaction, so a process
    killed by SIGTERM while it runs leaves the previous schema whole, and the next start
    applies it from the beginning."""
    from alembic import command

    app = f"nm_migrate_{uuid.uuid4().hex[:8]}"
    engine = create_engine(pg_url)
    with engine.connect() as conn, conn.begin():
        command.upgrade(db.alembic_config(conn), "0005")  # the release before

    def scalar(sql: str) -> Any:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    def blocked() -> bool:  # the daemon's migration waits for the lock held below
        return bool(scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                           f"'{app}' AND wait_event_type = 'Lock'"))

    with FeedServer() as server:
        farm = Farm(server, 5)
        farm.add(5)
        config = tmp_path / "monitor.yaml"
        config.write_text(f"feeds:\n{farm.config_feeds()}\npoll: {{full_text: false}}\n",
                          encoding="utf-8")
        url = f"{pg_url}&application_name={app}"
        holder = engine.connect()
        try:  # a reader holds the article table, as a long report would
            holder.execute(text("LOCK TABLE article IN ACCESS EXCLUSIVE MODE"))
            first = start(config, url, tmp_path / "first.log")
            try:
                wait_until(blocked, "the migration to wait for the table", guard_s=60)
            finally:
                stop_daemon(first, guard_s=30)  # SIGTERM ends a migration at once
        finally:
            holder.rollback()  # the server then finds the client gone and rolls back
            holder.close()
        assert first.returncode == -signal.SIGTERM
        wait_until(lambda: not blocked(), "the dead migration to roll back", guard_s=30)
        assert scalar("SELECT version_num FROM alembic_version") == "0005"
        assert scalar("SELECT to_regclass('article_page')") is None  # nothing half-applied
        second = start(config, url, tmp_path / "second.log")
        try:
            wait_until(lambda: (scalar("SELECT count(*) FROM article") or 0) >= 5,
                       "the restarted daemon to migrate and store the items", guard_s=60)
        finally:
            stop_daemon(second)
        heads = db.script_heads()
        assert scalar("SELECT version_num FROM alembic_version") in heads
        assert scalar("SELECT count(DISTINCT key) FROM article") == 5
    engine.dispose()
    assert second.returncode == 0, (tmp_path / "second.log").read_text()[-2000:]


@pytest.fixture(autouse=True)
def _pg_only(pg_url: str) -> None:
    """Runs on PostgreSQL only (pg_url skips when it is unreachable, outside CI)."""
