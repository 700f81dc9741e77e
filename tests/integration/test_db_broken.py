"""A PostgreSQL connection whose backend is gone counts as lost, whatever the error
says (monitor.store.db._broken_is_a_disconnect): real server, real psycopg."""

from __future__ import annotations

import os
from types import SimpleNamespace

import psycopg
import pytest

from monitor.store import db

ADMIN = os.environ.get("MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _context(dbapi_connection: object, error: Exception | None = None) -> SimpleNamespace:
    fairy = SimpleNamespace(dbapi_connection=dbapi_connection)
    return SimpleNamespace(is_disconnect=False, connection=SimpleNamespace(connection=fairy),
                           original_exception=error or psycopg.errors.UniqueViolation("dup"))


def test_an_error_on_a_connection_whose_backend_was_terminated_is_a_disconnect() -> None:
    with psycopg.connect(ADMIN, autocommit=True) as admin, \
            psycopg.connect(ADMIN, autocommit=True) as victim:
        healthy = _context(victim)
        db._broken_is_a_disconnect(healthy)
        assert not healthy.is_disconnect and not db.is_broken(victim)
        pid = victim.info.backend_pid
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(psycopg.Error):
            victim.execute("SELECT 1")
        dead = _context(victim)
        db._broken_is_a_disconnect(dead)
        assert dead.is_disconnect and db.is_broken(victim)


def test_no_connection_is_left_alone() -> None:
    context = SimpleNamespace(is_disconnect=False, connection=None)
    db._broken_is_a_disconnect(context)
    assert context.is_disconnect is False


def test_a_pipeline_that_cannot_end_is_a_disconnect_before_libpq_says_so() -> None:
    # Seen in CI: the backend was terminated mid-executemany and psycopg raised this
    # while the connection's status still read OK.
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        stuck = _context(conn, psycopg.OperationalError("cannot exit pipeline mode while busy"))
        db._broken_is_a_disconnect(stuck)
        other = _context(conn, psycopg.OperationalError("canceling statement due to timeout"))
        db._broken_is_a_disconnect(other)
        assert stuck.is_disconnect and not other.is_disconnect and not db.is_broken(conn)
