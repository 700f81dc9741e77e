"""Database outages, unit by unit: which errors mean "unavailable", the back-off, the
one-line-per-outage tracker, and a loop that waits an outage out."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import time

import pytest
from sqlalchemy.exc import OperationalError, ProgrammingError

from monitor.errors import StoreError, StoreUnavailable
from monitor.loop import every
from monitor.store.db import is_unavailable, store_errors
from monitor.store.health import StoreHealth, retry_delay_s


def _sqlite_error(message: str) -> OperationalError:
    return OperationalError("INSERT ...", {}, sqlite3.OperationalError(message))


@pytest.mark.parametrize(("error", "unavailable"), [
    # another process holds the write lock past busy_timeout
    (_sqlite_error("database is locked"), True),
    # SQLITE_FULL: disk full, or max_page_count reached
    (_sqlite_error("database or disk is full"), True),
    # the file's folder vanished or is unreadable for now
    (_sqlite_error("unable to open database file"), True),
    # a schema problem: retrying will not help
    (_sqlite_error("no such table: feed"), False),
    # a query bug
    (ProgrammingError("SELECT", {}, sqlite3.ProgrammingError("bad parameter")), False),
    # the OS refused (a socket, a file)
    (ConnectionRefusedError(111, "Connection refused"), True),
    # not a database error at all
    (ValueError("bad value"), False),
])
def test_which_errors_say_the_database_is_unavailable(error: Exception,
                                                      unavailable: bool) -> None:
    assert is_unavailable(error) is unavailable
    with pytest.raises(StoreError) as raised, store_errors("sqlite:///x.db", "saving"):
        raise error
    assert isinstance(raised.value, StoreUnavailable) is unavailable


def test_postgres_connection_and_server_errors_are_unavailable() -> None:
    import psycopg
    from psycopg import errors

    refused = psycopg.OperationalError("connection failed: Connection refused")
    assert is_unavailable(OperationalError("SELECT 1", {}, refused))
    shutdown = errors.AdminShutdown("terminating connection due to administrator command")
    assert is_unavailable(OperationalError("SELECT 1", {}, shutdown))
    full = errors.DiskFull("could not extend file")
    assert is_unavailable(OperationalError("INSERT", {}, full))
    syntax = errors.SyntaxError("syntax error at or near")
    assert not is_unavailable(ProgrammingError("SELEC", {}, syntax))


@pytest.mark.parametrize("failures", [1, 2, 3, 5, 8, 40])
def test_retry_delays_double_to_the_cap_with_jitter(failures: int) -> None:
    step = min(60.0, 2.0 ** (failures - 1))
    delays = [retry_delay_s(failures, base_s=1, cap_s=60, rng=random.Random(seed))
              for seed in range(200)]
    assert all(step / 2 <= d <= step for d in delays)
    assert len(set(delays)) > 100  # jittered: replicas do not retry in lock-step


def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    health = StoreHealth()
    with caplog.at_level(logging.INFO, logger="monitor.store.health"):
        health.succeeded(0.0)
        began = time.monotonic()
        for _ in range(50):
            health.failed("connection refused")
        assert not health.up and health.outage is not None
        assert health.outage.failures == 50 and health.outage.error == "connection refused"
        health.succeeded(began - 1)  # began before the outage: proves nothing
        assert not health.up
        health.succeeded(time.monotonic())
        assert health.up
        health.succeeded(time.monotonic())
    messages = [r.getMessage() for r in caplog.records]
    assert [m.split()[0] for m in messages] == ["store.unavailable", "store.recovered"]
    assert "failures=50" in messages[1]
    assert health.outages == 1 and health.disruptions == 50


def test_a_loop_waits_an_outage_out_with_back_off_and_no_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    outcomes: list[Exception | None] = [StoreUnavailable("down")] * 3 + [None] + [
        StoreUnavailable("down again")]
    asked: list[int] = []
    stop = asyncio.Event()

    async def work() -> None:
        outcome = outcomes.pop(0)
        if not outcomes:
            stop.set()
        if outcome is not None:
            raise outcome

    def backoff(failures: int) -> float:
        asked.append(failures)
        return 0

    with caplog.at_level(logging.DEBUG, logger="monitor.loop"):
        asyncio.run(every(lambda: 0, work, stop, name="poll", backoff=backoff))
    assert asked == [1, 2, 3, 1]  # the count starts again after a pass that worked
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.WARNING]
