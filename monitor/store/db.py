"""Engines, transactions and migrations: the SQLite and PostgreSQL specifics.

* SQLite (``sqlite:///path``): parent folder created, WAL, busy timeout, foreign
  keys on. The sqlite3 driver's own transaction handling is switched off and
  SQLAlchemy emits ``BEGIN IMMEDIATE`` itself, so a read-then-write transaction
  (a claim) holds the write lock from its first statement and savepoints work.
* PostgreSQL (``postgresql+psycopg://...``, ``?options=-csearch_path%3Dschema``
  honoured, also for ``alembic_version``): deadlocks and serialization failures
  are retried a few times, since every store method is one idempotent transaction.
  So is a transaction whose connection died under it (a backend terminated, a
  server restarted): it runs again at once on a fresh connection.

Every database failure leaves this package as ``StoreError`` with the URL's
password redacted; ``StoreUnavailable`` when it is the database's state, not the
query, that failed (unreachable, shutting down, locked, disk full): try again later.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import weakref
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from monitor.errors import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: PostgreSQL advisory lock held while migrating: replicas starting together take turns.
MIGRATION_LOCK_ID = 0x6E6D_6462  # "nmdb"
#: PostgreSQL SQLSTATEs after which re-running the whole transaction is safe.
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock, serialization failure
_ATTEMPTS = 5
#: How long a SQLite write waits for another process's write lock (``storage.busy_timeout``).
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Page cache per SQLite connection, in KiB.
SQLITE_CACHE_KIB = 1024


class WriteTurns:
    """SQLite's one writer, taken in turn by this process's threads; a bulk write
    (an ingest batch) lets the short ones waiting (the outbox's) go first.

    Without it threads race for SQLite's lock and sleep in its busy handler (1, 2, 5
    ... 100 ms), waking long after the lock came free; and a delivery that records
    each sent alert waited behind every ingest batch of a first poll (12 alerts/s).
    Re-entrant. With ``between`` (:func:`share_write_turns`), turns are taken between
    processes too; otherwise another process's writer is waited for by ``busy_timeout``.
    """

    def __init__(self, between: ProcessTurns | None = None) -> None:
        self._cond = threading.Condition()
        self._holder: int | None = None
        self._depth = 0
        self._short_waiting = 0
        self._bulk_waiting = 0
        self.between = between

    def waiting(self) -> tuple[int, int]:
        """Threads waiting for a turn: (short writes, bulk writes)."""
        with self._cond:
            return self._short_waiting, self._bulk_waiting

    @contextmanager
    def turn(self, *, bulk: bool = False) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._holder != me:
                self._short_waiting += not bulk
                self._bulk_waiting += bulk
                try:
                    self._cond.wait_for(lambda: self._holder is None and not (
                        bulk and self._short_waiting))
                finally:
                    self._short_waiting -= not bulk
                    self._bulk_waiting -= bulk
                self._holder = me
            self._depth += 1
        between = self.between if self._depth == 1 else None
        try:
            if between is None:
                yield
            else:
                with between.turn(bulk=bulk):
                    yield
        finally:
            with self._cond:
                self._depth -= 1
                if not self._depth:
                    self._holder = None
                    self._cond.notify_all()


class ProcessTurns:
    """SQLite's one writer taken in turn by a process and the children it hands this to
    (``once``'s delivery process), short writes first: two multiprocessing locks, whose
    waiters the kernel wakes the moment they are free.

    A short write holds the gate while it waits for the turn; a bulk write waits while
    the gate is held, so the batches of a poll let the outbox's writes of the other
    process in between them (SQLite's busy handler alone let it in about once a second:
    it sleeps up to 100 ms between tries, and a batch takes the lock again at once). A
    lock not had within ``timeout_s`` (a process stopped in a write) is given up on:
    SQLite's busy timeout then decides, as without these.
    """

    def __init__(self, context: Any, timeout_s: float) -> None:
        self._turn, self._gate = context.Lock(), context.Lock()
        self.timeout_s = timeout_s

    @contextmanager
    def turn(self, *, bulk: bool) -> Iterator[None]:
        deadline = time.monotonic() + self.timeout_s
        held = []
        try:
            if bulk:
                if self._gate.acquire(timeout=self.timeout_s):
                    self._gate.release()  # no short write waits: go
            elif self._gate.acquire(timeout=self.timeout_s):
                held.append(self._gate)
            if self._turn.acquire(timeout=max(0.0, deadline - time.monotonic())):
                held.append(self._turn)
            yield
        finally:
            for lock in reversed(held):
                lock.release()


def share_write_turns(engine: Engine, between: ProcessTurns) -> None:
    """From now on this engine's writes take turns with other processes' (SQLite only)."""
    turns = _SQLITE_WRITE_TURNS.get(engine)
    if turns is not None:
        turns.between = between


_SQLITE_WRITE_TURNS: weakref.WeakKeyDictionary[Engine, WriteTurns] = (
    weakref.WeakKeyDictionary())
#: libpq settings unless the URL sets them: a connect gives up after 10 s, and TCP
#: keepalives declare a silent peer dead after about a minute (30 s + 3 x 10 s).
PG_CONNECT_ARGS = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                   "keepalives_interval": 10, "keepalives_count": 3}
#: SQLite errors that say the database is busy, full or briefly unreadable, not the query.
_SQLITE_UNAVAILABLE = ("database is locked", "database table is locked", "disk is full",
                       "disk i/o error", "unable to open database file", "readonly database")
#: Alembic's ``context`` is a module global: one migration at a time per process.
_ALEMBIC_LOCK = threading.Lock()
_PASSWORD_RE = re.compile(r"(?P<head>://[^:/@?#]*:)(?P<pw>[^@/?#]*)(?P<tail>@)")


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***`` (also for unparsable URLs)."""
    return _PASSWORD_RE.sub(lambda m: f"{m['head']}***{m['tail']}", url)


def _password(url: str) -> str | None:
    found = _PASSWORD_RE.search(url)
    return found["pw"] if found and found["pw"] else None


def describe_error(url: str, exc: BaseException) -> str:
    """A one-paragraph reason for a database failure, free of SQL parameters and secrets."""
    orig = getattr(exc, "orig", None)
    reason = str(orig if orig is not None else exc).strip() or type(exc).__name__
    password = _password(url)
    if password:
        reason = reason.replace(password, "***")
    return f"{redact_url(url)}: {reason}"


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database cannot serve anyone right now (connection
    refused or lost, server shutting down, out of disk, a SQLite lock held too long),
    as opposed to a failing query: the same work may succeed later."""
    if isinstance(exc, (DisconnectionError, PoolTimeout, OSError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if type(orig).__module__.startswith("psycopg"):
        # psycopg's OperationalError: connection failures, admin shutdown (57P01-3),
        # insufficient resources (53xxx: disk full, too many connections), lock and
        # statement timeouts. Programming and data errors are other classes.
        import psycopg

        return isinstance(orig, psycopg.OperationalError)
    if type(orig).__module__ == "sqlite3":
        text = str(orig).lower()
        return any(marker in text for marker in _SQLITE_UNAVAILABLE)
    return False


@contextmanager
def store_errors(url: str, action: str) -> Iterator[None]:
    """Turn a foreign database error into StoreError, or StoreUnavailable when the
    database is down, locked or full (the message never holds a password)."""
    try:
        yield
    except StoreError:
        raise
    except (SQLAlchemyError, OSError, ValueError) as e:
        kind = StoreUnavailable if is_unavailable(e) else StoreError
        raise kind(f"{action} failed: {describe_error(url, e)}") from e


def _is_retryable(exc: DBAPIError) -> bool:
    """Deadlocks and serialization failures, and a connection that died under the
    transaction (rolled back with it; a new one from the pool may well work)."""
    return exc.connection_invalidated or (
        getattr(exc.orig, "sqlstate", None) in _RETRYABLE_SQLSTATES)


def make_engine(url: str, *, busy_timeout_s: float = SQLITE_BUSY_TIMEOUT_S) -> Engine:
    """An engine configured for the backend named by ``url``; on SQLite a write waits
    up to ``busy_timeout_s`` for another process's write lock."""
    with store_errors(url, "opening the database"):
        parsed = make_url(url)
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            return _sqlite_engine(url, parsed.database, int(busy_timeout_s * 1000))
        if backend == "postgresql":
            # A server that vanished without a reset (a dead host, a failover that
            # moved its address) must fail a connect, and a query on an open connection,
            # in bounded time: the outage is then noticed and retried with back-off, and
            # a stop is not held by a worker thread waiting on a dead socket.
            args = {k: v for k, v in PG_CONNECT_ARGS.items() if k not in parsed.query}
            engine = create_engine(url, pool_pre_ping=True, future=True, connect_args=args)
            event.listen(engine, "handle_error", _broken_is_a_disconnect)
            return engine
        raise ValueError(f"unsupported database backend {backend!r} (sqlite or postgresql)")


def _broken_is_a_disconnect(context: Any) -> None:
    """A PostgreSQL error on a connection that is now broken is a lost connection
    (retried at once on a new one), whatever its message. A backend terminated in the
    middle of a pipelined ``executemany`` surfaces as "cannot exit pipeline mode while
    busy", which SQLAlchemy does not recognise as a disconnect; libpq may not have
    marked the connection bad yet when it is raised (seen in CI), so that message is a
    lost connection too: a pipeline that cannot end leaves nothing to reuse, and the
    transaction, never committed, is safe to run again."""
    if context.is_disconnect or context.connection is None:
        return
    dbapi_connection = getattr(context.connection.connection, "dbapi_connection", None)
    if is_broken(dbapi_connection) or _PIPELINE_STUCK in str(context.original_exception):
        context.is_disconnect = True


#: psycopg's error when a pipeline's results never came (its backend went away).
_PIPELINE_STUCK = "cannot exit pipeline mode while busy"


def is_broken(dbapi_connection: Any) -> bool:
    """Whether a psycopg connection can no longer be used (its server side is gone)."""
    if dbapi_connection is None:
        return False
    if getattr(dbapi_connection, "broken", False):
        return True
    from psycopg import pq

    pgconn = getattr(dbapi_connection, "pgconn", None)
    return pgconn is not None and pgconn.status == pq.ConnStatus.BAD


def _sqlite_engine(url: str, database: str | None, busy_timeout_ms: int) -> Engine:
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False})
    _SQLITE_WRITE_TURNS[engine] = WriteTurns()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN, see _on_begin
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")  # safe with WAL, much faster commits
        # A bounded page cache per connection (SQLite's default is 2 MB): the pool holds
        # several connections for months, and reads are served by the OS cache anyway.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Readers take no lock so `status` never waits behind the daemon's writes.
        mode = "DEFERRED" if conn.get_execution_options().get("readonly") else "IMMEDIATE"
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def run_in_transaction(
    engine: Engine,
    url: str,
    action: str,
    work: Callable[[Connection], T],
    *,
    readonly: bool = False,
    bulk: bool = False,
    on_reconnect: Callable[[], None] | None = None,
) -> T:
    """Run ``work`` in one transaction; retry it on a PostgreSQL deadlock, or at once
    when its connection died under it (then ``on_reconnect`` is told)."""
    turns = None if readonly else _SQLITE_WRITE_TURNS.get(engine)
    with store_errors(url, action):
        for attempt in range(1, _ATTEMPTS + 1):
            try:
                turn = turns.turn(bulk=bulk) if turns else nullcontext()
                with turn, engine.connect() as conn:
                    if readonly:
                        conn = conn.execution_options(readonly=True)
                    with conn.begin():
                        return work(conn)
            except DBAPIError as e:
                if attempt == _ATTEMPTS or not _is_retryable(e):
                    raise
                # A lost connection is retried quietly: an outage logs once (StoreHealth).
                level = logging.DEBUG if e.connection_invalidated else logging.WARNING
                if e.connection_invalidated and on_reconnect is not None:
                    on_reconnect()
                log.log(level, "store.retry action=%s attempt=%d sqlstate=%s", action, attempt,
                        getattr(e.orig, "sqlstate", None))
    raise AssertionError("unreachable")  # pragma: no cover


#: Search structures the models cannot declare (migration 0007): FTS5 tables, GIN index.
_UNMODELLED = ("article_fts", "ix_article_search")


def include_object(obj: Any, name: str | None, type_: str, reflected: bool,
                   compare_to: Any) -> bool:
    """Alembic filter: leave the full-text search structures out of model comparisons."""
    return not (name or "").startswith(_UNMODELLED)


def alembic_config(connection: Connection) -> Config:
    """An Alembic config for the packaged migrations, bound to ``connection``."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


_REVISION_RE = re.compile(r"^revision\b[^=]*=\s*['\"]([^'\"]+)['\"]", re.M)
_DOWN_RE = re.compile(r"^down_revision\b[^=]*=(.*)$", re.M)


def script_heads() -> frozenset[str]:
    """The head revisions of the packaged migrations, read from their files without
    loading Alembic; empty when a file cannot be read that way (then Alembic decides)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        revision, down = _REVISION_RE.search(text), _DOWN_RE.search(text)
        if revision is None or down is None:
            return frozenset()
        revisions.add(revision[1])
        parents.update(re.findall(r"['\"]([^'\"]+)['\"]", down[1]))
    return frozenset(revisions - parents)


def at_head(engine: Engine) -> bool:
    """True when ``alembic_version`` names exactly the packaged heads: one query, so a
    command on an up-to-date database never loads Alembic (a third of a second)."""
    heads = script_heads()
    if not heads:
        return False
    try:
        with engine.connect() as conn:
            conn = conn.execution_options(readonly=True)
            stamped = set(conn.exec_driver_sql("SELECT version_num FROM alembic_version")
                          .scalars())
    except DBAPIError:  # no version table yet: a new database
        return False
    return stamped == heads


def upgrade_engine(engine: Engine, url: str) -> None:
    """Apply every pending migration, in one transaction (nothing to do: one query)."""
    with store_errors(url, "checking the database schema"):
        if at_head(engine):
            return
    from alembic import command
    from alembic.util.exc import CommandError

    with store_errors(url, "migrating the database"), _ALEMBIC_LOCK:
        with engine.connect() as conn, conn.begin():
            try:
                command.upgrade(alembic_config(conn), "head")
            except CommandError as e:  # stamped by a version of news-monitor newer than this
                stamped = conn.exec_driver_sql("SELECT version_num FROM alembic_version"
                                               ).scalars().all()
                raise StoreError(
                    f"the database schema is at revision {', '.join(stamped) or '?'}, which "
                    "this version of news-monitor does not know (a newer version migrated "
                    "it): run that version or a newer one") from e
    log.info("store.migrated url=%s", redact_url(url))


def upgrade(url: str) -> None:
    """Bring the database at ``url`` to the latest schema (``news-monitor db upgrade``)."""
    engine = make_engine(url)
    try:
        upgrade_engine(engine, url)
    finally:
        engine.dispose()
