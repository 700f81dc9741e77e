"""Is the database there? One log line when it goes away, one when it comes back.

Every store transaction reports its outcome here (``Store._tx``). A daemon retries
against a database that is down many times a minute; logging each attempt buried
the one line that mattered (73 tracebacks in a 40-second outage). ``StoreHealth``
turns the stream of attempts into events::

    store.unavailable  since=...  error=...          (the first failure)
    store.recovered    after_s=12.4 failures=31      (the first success after it)

and answers ``up`` for the readiness probe and the metrics. ``retry_delay_s`` is
the back-off of whoever retries: exponential from ``base_s`` to ``cap_s`` with
"equal jitter" (half fixed, half random), so replicas that lost the same database
do not come back in lock-step.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

log = logging.getLogger(__name__)

#: First retry after this many seconds, doubling up to ``RETRY_CAP_S``.
RETRY_BASE_S = 1.0
RETRY_CAP_S = 60.0


def retry_delay_s(failures: int, *, base_s: float, cap_s: float, rng: random.Random) -> float:
    """Seconds to wait before retry number ``failures`` (1 = the first): half of
    ``min(cap, base * 2**(failures-1))`` plus a random share of the other half."""
    step = min(cap_s, base_s * 2 ** min(max(failures - 1, 0), 30))
    return step / 2 + rng.uniform(0, step / 2)


@dataclass(frozen=True)
class Outage:
    """The database outage under way (None: the database answers)."""

    #: When the first failing transaction failed (wall clock, UTC).
    since: datetime
    #: Transactions that failed since then.
    failures: int
    #: The first failure's reason (password redacted).
    error: str


class StoreHealth:
    """Thread-safe outage tracker (store transactions run in worker threads)."""

    def __init__(self, *, base_s: float = RETRY_BASE_S, cap_s: float = RETRY_CAP_S,
                 rng: random.Random | None = None) -> None:
        self.base_s, self.cap_s = base_s, cap_s
        self.rng = rng or random.Random()
        self._lock = threading.Lock()
        self._outage: Outage | None = None
        self._started = 0.0
        #: Outages seen (ended or not), and connections that died under a
        #: transaction and were replaced (work retried at once): a claim's answer may
        #: have been lost with them, so callers release their leases afterwards.
        self.outages = 0
        self.disruptions = 0

    @property
    def up(self) -> bool:
        return self._outage is None

    @property
    def outage(self) -> Outage | None:
        return self._outage

    def succeeded(self, started: float) -> None:
        """A transaction begun at ``started`` (``time.monotonic()``) committed. One
        begun before the outage proves nothing (it may have finished just before
        the cut): only a later one ends it."""
        if self._outage is None:  # the common case: no lock
            return
        with self._lock:
            outage = self._outage
            if outage is None or started < self._started:
                return
            self._outage = None
            elapsed = time.monotonic() - self._started
        log.warning("store.recovered after_s=%.1f failures=%d", elapsed, outage.failures)

    def failed(self, error: str) -> None:
        """A transaction failed because the database is unavailable (``error``: why)."""
        with self._lock:
            self.disruptions += 1
            if self._outage is not None:
                self._outage = Outage(self._outage.since, self._outage.failures + 1,
                                      self._outage.error)
                return
            self._outage = Outage(datetime.now(UTC), 1, error)
            self._started = time.monotonic()
            self.outages += 1
        log.error("store.unavailable error=%s (retrying with back-off; one line when it "
                  "is back)", error)

    def reconnected(self) -> None:
        """A connection died under a transaction, which then ran again on a new one."""
        with self._lock:
            self.disruptions += 1

    def retry_delay_s(self) -> float:
        """How long to wait before the next attempt of work that failed just now."""
        failures = self._outage.failures if self._outage is not None else 1
        return retry_delay_s(failures, base_s=self.base_s, cap_s=self.cap_s, rng=self.rng)
