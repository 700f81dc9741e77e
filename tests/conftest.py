"""Shared fixtures: database URLs (SQLite and real PostgreSQL) and shared test data.

PostgreSQL tests use the server at 127.0.0.1:5432 (user postgres, database test),
each test in a schema of its own. Outside CI they skip when the server is
unreachable; in CI (CI=true) they fail instead, so a missing server is never
mistaken for a pass.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Iterator

import pytest

PG_ADMIN_URL = os.environ.get(
    "MONITOR_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test"
)
REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("MONITOR_SHARED_DATA", REPO.parent / "shared" / "data"))
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _pg_connect():  # type: ignore[no-untyped-def]
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - the test extra installs it
        if IN_CI:
            raise
        pytest.skip(f"psycopg not installed: {e}")
    try:
        return psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as e:
        if IN_CI:
            pytest.fail(f"PostgreSQL unreachable at {PG_ADMIN_URL} (CI=true): {e}")
        pytest.skip(f"PostgreSQL unreachable at {PG_ADMIN_URL}: {e}")


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A SQLAlchemy URL for a fresh, empty PostgreSQL schema, dropped afterwards."""
    conn = _pg_connect()
    schema = f"t_{uuid.uuid4().hex[:16]}"
    conn.execute(f'CREATE SCHEMA "{schema}"')
    base = PG_ADMIN_URL.replace("postgresql://", "postgresql+psycopg://", 1)
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        conn.close()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'monitor.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str:
    """Run the test once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return str(request.getfixturevalue("sqlite_url"))
    return str(request.getfixturevalue("pg_url"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (or $MONITOR_SHARED_DATA); skips when absent (a user's clone)."""
    if not SHARED_DATA.is_dir():
        if IN_CI:
            pytest.fail(f"shared test data missing at {SHARED_DATA} (CI=true)")
        pytest.skip(f"shared test data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(autouse=True, scope="session")
def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The caches (apprise's schema index, the record of rule sets that compile) of this
    session's own, for the CLI processes it starts too: no test sees or leaves the user's."""
    before = os.environ.get("XDG_CACHE_HOME")
    os.environ["XDG_CACHE_HOME"] = str(tmp_path_factory.mktemp("xdg-cache"))
    yield
    if before is None:
        os.environ.pop("XDG_CACHE_HOME", None)
    else:
        os.environ["XDG_CACHE_HOME"] = before
