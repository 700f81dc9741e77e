"""When to poll a feed next. Pure: ``now`` (and any randomness) comes in, a datetime out.

The delay before the next poll is built in steps, each a small pure function:

1. the base interval: the configured one, or (adaptive) one day divided by the
   observed rate of new items, clamped to ``[min_interval, max_interval]``
   (``interval_for``; the rate is a time-weighted average, ``update_rate``);
2. after failures, an exponential backoff from that interval, capped (``backoff_s``);
3. at least what the server asked for: ``Retry-After`` (429/503), or on success
   ``Cache-Control: max-age`` / ``Expires`` / RSS ``<ttl>`` (``server_hint_s``),
   each capped so a hostile value cannot park a feed forever;
4. plus a little random jitter (only ever added), so feeds configured together do
   not stay in lock-step and hammer a host at the same second.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
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
    hint_s: int | None = None,
    jitter: float = 0.0,
    rng: random.Random | None = None,
) -> datetime:
    """The time a feed is next due.

    The interval normally; after failures an exponential backoff from the
    interval (see ``backoff_s``). A server's Retry-After (or, on success, its
    caching hint ``hint_s``) wins when it asks for a longer wait, up to the same
    cap, so a hostile value cannot park a feed forever. ``jitter`` (a fraction,
    e.g. 0.1) adds up to that share of the delay, drawn from ``rng``.
    """
    delay = backoff_s(interval_s, error_count, max_backoff_s)
    cap = max(max_backoff_s, interval_s)
    for wanted in (retry_after_s, hint_s if error_count == 0 else None):
        if wanted is not None and wanted > delay:
            delay = min(wanted, cap)
    if jitter > 0 and rng is not None:
        delay += int(delay * jitter * rng.random())
    return now + timedelta(seconds=delay)


def interval_for(
    configured_s: int,
    *,
    items_per_day: float | None = None,
    adaptive: bool = False,
    min_interval_s: int = 300,
    max_interval_s: int = 86400,
) -> int:
    """The base poll interval of a feed, before backoff, server hints and jitter.

    Not adaptive: the configured interval. Adaptive: one poll per expected new
    item (a day divided by the observed rate), clamped to ``[min, max]``; while
    the rate is unknown, the configured interval (clamped too). A feed that
    publishes nothing drifts to ``max_interval``.
    """
    if not adaptive:
        return max(1, configured_s)
    low = max(1, min_interval_s)
    high = max(low, max_interval_s)
    if items_per_day is None:
        wanted = configured_s
    elif items_per_day <= 0:
        wanted = high
    else:
        wanted = int(86400 / items_per_day)
    return min(max(wanted, low), high)


def update_rate(
    rate: float | None, new_items: int, elapsed_s: float, *, half_life_s: float = 86400
) -> float | None:
    """The feed's new-items-per-day after one more poll: a time-weighted average.

    ``elapsed_s`` is the time since the previous poll (<= 0: unknown, e.g. the
    first poll, whose backlog says nothing about the rate; the rate is kept).
    A poll after a long gap weighs more than one after a short gap, so the
    estimate does not depend on how often the feed happens to be polled: the
    old rate loses half its weight per ``half_life_s`` of elapsed time.
    """
    if elapsed_s <= 0:
        return rate
    observed = max(0, new_items) * 86400 / elapsed_s
    if rate is None:
        return observed
    keep = math.exp(-math.log(2) * elapsed_s / half_life_s)
    return keep * rate + (1 - keep) * observed


_MAX_AGE = re.compile(r"(?:^|[,\s])max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def server_hint_s(
    headers: Mapping[str, str], now: datetime, *, ttl_s: int | None = None
) -> int | None:
    """The shortest wait the server asks for: Cache-Control max-age, Expires or <ttl>.

    The longest of the three wins ("at least the server's hint"). ``no-cache`` /
    ``no-store`` / ``max-age=0`` ask for nothing. ``headers`` have lower-case names.
    """
    hints: list[int] = []
    cache_control = headers.get("cache-control", "")
    found = _MAX_AGE.search(cache_control)
    if found:
        hints.append(int(found.group(1)))
    elif "expires" in headers and "no-cache" not in cache_control.lower():
        expires = retry_after_seconds(headers["expires"], now)
        if expires is not None and not headers["expires"].strip().isdigit():
            hints.append(expires)
    if ttl_s is not None and ttl_s > 0:
        hints.append(ttl_s)
    best = max(hints, default=0)
    return best or None


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
