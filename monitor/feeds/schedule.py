"""When to poll a feed next. Pure: ``now`` comes in, a datetime goes out.

The polling issue will extend this (adaptive intervals, Cache-Control, jitter);
callers pass keyword arguments so new ones slot in without breaking them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

#: Cap on the doublings, so the delay stays a small integer whatever error_count is.
_MAX_DOUBLINGS = 30


def backoff_s(interval_s: int, error_count: int, max_backoff_s: int = 86400) -> int:
    """The delay after ``error_count`` consecutive failures.

    interval * 2**error_count, capped at ``max_backoff_s`` (but never below the
    interval itself: a feed polled daily is not polled more often when failing).
    """
    interval_s = max(1, interval_s)
    if error_count <= 0:
        return interval_s
    cap = max(max_backoff_s, interval_s)
    return min(interval_s << min(error_count, _MAX_DOUBLINGS), cap)


def next_poll_at(
    now: datetime,
    interval_s: int,
    *,
    error_count: int = 0,
    retry_after_s: int | None = None,
    max_backoff_s: int = 86400,
) -> datetime:
    """The time a feed is next due.

    The interval normally; after failures an exponential backoff from the
    interval (see ``backoff_s``). A server's Retry-After wins when it asks for a
    longer wait, up to the same cap, so a hostile value cannot park a feed forever.
    """
    delay = backoff_s(interval_s, error_count, max_backoff_s)
    if retry_after_s is not None and retry_after_s > delay:
        delay = min(retry_after_s, max(max_backoff_s, interval_s))
    return now + timedelta(seconds=delay)


def retry_after_seconds(value: str | None, now: datetime) -> int | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date.

    None when absent or unreadable; 0 for a date in the past. ``now`` must be aware.
    """
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return int(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=now.tzinfo)
    return max(0, int((when - now).total_seconds()))
