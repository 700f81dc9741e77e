"""next_poll_at and friends: pure functions, a fixed clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.feeds.schedule import backoff_s, next_poll_at, retry_after_seconds

NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
HOUR = 3600
DAY = 86400

NEXT_POLL = [
    # (interval_s, error_count, retry_after_s, max_backoff_s, expected delay in seconds)
    (900, 0, None, DAY, 900),  # healthy: the interval
    (900, 1, None, DAY, 1800),  # first failure doubles
    (900, 2, None, DAY, 3600),
    (900, 5, None, DAY, 28800),  # 900 * 32
    (900, 7, None, DAY, DAY),  # 900 * 128 > a day: capped
    (900, 10_000, None, DAY, DAY),  # huge counts do not overflow
    (2 * DAY, 3, None, DAY, 2 * DAY),  # cap below the interval: the interval wins
    (900, 0, 7200, DAY, 7200),  # Retry-After longer than the interval: honoured
    (900, 0, 60, DAY, 900),  # Retry-After shorter: the interval still applies
    (900, 3, 3600, DAY, 7200),  # backoff (900*8) longer than Retry-After
    (900, 0, 10 * DAY, DAY, DAY),  # hostile Retry-After capped
    (900, 2, None, HOUR, HOUR),  # custom cap
    (0, 0, None, DAY, 1),  # nonsense interval: at least a second
]


@pytest.mark.parametrize(("interval", "errors", "retry_after", "cap", "delay"), NEXT_POLL)
def test_next_poll_at(
    interval: int, errors: int, retry_after: int | None, cap: int, delay: int
) -> None:
    got = next_poll_at(
        NOW, interval, error_count=errors, retry_after_s=retry_after, max_backoff_s=cap
    )
    assert got == NOW + timedelta(seconds=delay)


def test_backoff_grows_monotonically_to_the_cap() -> None:
    delays = [backoff_s(600, n) for n in range(20)]
    assert delays == sorted(delays)
    assert delays[0] == 600 and delays[-1] == DAY


RETRY_AFTER = [
    # (header value, seconds)
    (None, None),
    ("", None),
    ("120", 120),
    (" 0 ", 0),
    ("Thu, 26 Nov 2026 12:05:00 GMT", 300),  # HTTP date
    ("Thu, 26 Nov 2026 11:00:00 GMT", 0),  # in the past
    ("soon", None),  # unreadable
    ("-5", None),
]


@pytest.mark.parametrize(("value", "seconds"), RETRY_AFTER)
def test_retry_after_seconds(value: str | None, seconds: int | None) -> None:
    assert retry_after_seconds(value, NOW) == seconds
