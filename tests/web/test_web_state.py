"""How many of the web's store calls run at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from monitor.config import Settings
from monitor.store.repo import Store
from monitor.web.app import make_app
from monitor.web.state import PG_WEB_SESSIONS, STATE, WEB_THREADS

CALLS = WEB_THREADS + 2


class CountingExecutor(ThreadPoolExecutor):
    """The web's thread pool, counting the calls handed to it."""

    submitted = 0

    def submit(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        self.submitted += 1
        return super().submit(*args, **kwargs)


def test_store_calls_at_once_are_bounded_on_postgresql_only(db_url: str) -> None:
    """On PostgreSQL each call keeps a server backend busy, at the server's priority:
    PG_WEB_SESSIONS at once. SQLite reads run in the web's own threads: all of them."""
    settings = Settings.model_validate({"database": db_url, "http": {}})
    with Store.open(db_url) as store:
        state = make_app(lambda: settings, store)[STATE]
        state.executor.shutdown()
        state.executor = pool = CountingExecutor(WEB_THREADS)
        bounded = store.backend == "postgresql"
        expected = PG_WEB_SESSIONS if bounded else WEB_THREADS
        lock, release = threading.Lock(), threading.Event()
        active, most = 0, 0

        def call(n: int) -> int:
            nonlocal active, most
            with lock:
                active += 1
                most = max(most, active)
            release.wait(10)
            with lock:
                active -= 1
            return n

        async def main() -> list[int]:
            calls = asyncio.gather(*(state.run(call, n) for n in range(CALLS)))
            while True:  # until as many calls run as may: the rest wait
                with lock:
                    if active >= expected:
                        break
                await asyncio.sleep(0.01)
            # Every call had its turn on the loop: handed to the threads, or waiting.
            handed[0] = pool.submitted
            release.set()
            return await calls

        handed = [0]
        try:
            assert asyncio.run(main()) == list(range(CALLS))
        finally:
            state.executor.shutdown()
        assert handed[0] == (PG_WEB_SESSIONS if bounded else CALLS)
        assert most == expected


def test_polling_now_sees_a_lease_held_by_any_process(db_url: str) -> None:
    """The web's signal that a poll pass runs (monitor.web.pace): a feed leased at now,
    by whichever process; not once the lease is given back or has run out."""
    from datetime import UTC, datetime, timedelta

    from monitor.article import FeedSpec

    now = datetime.now(UTC)
    with Store.open(db_url) as store:
        store.sync_feeds([FeedSpec(url="https://a.example/f.xml", name="F")], now)
        assert store.polling_now(now) is False
        assert len(store.claim_due_feeds(now, owner="replica-b", lease_s=60,
                                         include_not_due=True)) == 1
        assert store.polling_now(now) is True
        assert store.polling_now(now + timedelta(seconds=61)) is False  # a dead poller's
        store.release_feeds("replica-b")
        assert store.polling_now(now) is False
