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


# -- issue 5: adaptive intervals, server hints, jitter ------------------------------------

from random import Random  # noqa: E402

from monitor.feeds.schedule import interval_for, server_hint_s, update_rate  # noqa: E402


@pytest.mark.parametrize(
    ("configured", "rate", "adaptive", "expected"),
    [
        (900, 100.0, False, 900),  # not adaptive: the configured interval, whatever the rate
        (900, None, True, 900),  # rate unknown: the configured interval
        (60, None, True, 300),  # ... clamped to min_interval
        (900, 48.0, True, 1800),  # 48 items a day: one poll per expected item
        (900, 1000.0, True, 300),  # very busy: min_interval
        (900, 0.5, True, DAY),  # one item every two days: max_interval
        (900, 0.0, True, DAY),  # silent: max_interval
    ],
)
def test_interval_for(configured: int, rate: float | None, adaptive: bool, expected: int) -> None:
    got = interval_for(
        configured, items_per_day=rate, adaptive=adaptive, min_interval_s=300, max_interval_s=DAY
    )
    assert got == expected


def test_update_rate_first_poll_keeps_the_rate_unknown() -> None:
    assert update_rate(None, 50, 0) is None  # a backlog says nothing about the rate
    assert update_rate(3.0, 50, 0) == 3.0


def test_update_rate_converges_on_the_observed_rate() -> None:
    assert update_rate(None, 2, HOUR) == pytest.approx(48.0)
    rate: float | None = 0.0
    for _ in range(400):  # a feed that now publishes 4 items an hour, polled hourly
        rate = update_rate(rate, 4, HOUR)
    assert rate == pytest.approx(96.0, rel=1e-3)


def test_update_rate_weighs_by_elapsed_time_not_poll_count() -> None:
    # One day-long gap moves the estimate as far as 24 hourly polls.
    one = update_rate(0.0, 24, DAY)
    many: float | None = 0.0
    for _ in range(24):
        many = update_rate(many, 1, HOUR)
    assert one == pytest.approx(many) == pytest.approx(12.0)  # half-life of a day


@pytest.mark.parametrize(
    ("headers", "ttl_s", "expected"),
    [
        ({}, None, None),
        ({"cache-control": "public, max-age=1800"}, None, 1800),
        ({"cache-control": 'max-age="600", must-revalidate'}, None, 600),
        ({"cache-control": "s-maxage=99, max-age=0"}, None, None),  # s-maxage is for proxies
        ({"expires": "Thu, 26 Nov 2026 13:00:00 GMT"}, None, HOUR),
        ({"expires": "0"}, None, None),  # "already expired"
        ({"expires": "not a date"}, None, None),
        # max-age overrides Expires (RFC 9111)
        ({"cache-control": "max-age=60", "expires": "Thu, 26 Nov 2026 13:00:00 GMT"}, None, 60),
        ({"cache-control": "no-cache", "expires": "Thu, 26 Nov 2026 13:00:00 GMT"}, None, None),
        ({}, 3600, 3600),  # RSS <ttl>
        ({"cache-control": "max-age=60"}, 7200, 7200),  # the longest hint wins
    ],
)
def test_server_hint(headers: dict[str, str], ttl_s: int | None, expected: int | None) -> None:
    assert server_hint_s(headers, NOW, ttl_s=ttl_s) == expected


def test_hint_lengthens_a_healthy_poll_but_is_capped() -> None:
    assert next_poll_at(NOW, 900, hint_s=3600) == NOW + timedelta(seconds=3600)
    assert next_poll_at(NOW, 900, hint_s=60) == NOW + timedelta(seconds=900)
    assert next_poll_at(NOW, 900, hint_s=365 * DAY) == NOW + timedelta(seconds=DAY)
    # After a failure the backoff decides; a cache hint describes a good response.
    assert next_poll_at(NOW, 900, error_count=1, hint_s=7200) == NOW + timedelta(seconds=1800)


def test_jitter_only_adds_and_is_deterministic_given_the_rng() -> None:
    first = [next_poll_at(NOW, 1000, jitter=0.1, rng=Random(7)) for _ in range(3)]
    again = [next_poll_at(NOW, 1000, jitter=0.1, rng=Random(7)) for _ in range(3)]
    assert first == again
    rng = Random(1)
    delays = {(next_poll_at(NOW, 1000, jitter=0.1, rng=rng) - NOW).total_seconds()
              for _ in range(200)}
    assert min(delays) >= 1000 and max(delays) <= 1100 and len(delays) > 50
    # Jitter never undercuts a Retry-After.
    when = next_poll_at(NOW, 900, retry_after_s=7200, jitter=0.5, rng=Random(3))
    assert when >= NOW + timedelta(seconds=7200)
