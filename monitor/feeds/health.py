"""A feed's health and next poll in plain words, for ``news-monitor status``. Pure.

    ok · new: not polled yet · failing 3 times in a row: HTTP 500 · disabled: HTTP 410 Gone
    in 14 min · due now · overdue by 2 min · never (disabled)
    held by host:4711:ab12cd until 2026-12-02 06:31:00 UTC (in 4 min)
"""

from __future__ import annotations

from datetime import datetime

from monitor.store.repo import FeedStatus


def health(feed: FeedStatus) -> str:
    """One line saying whether the feed is fine, and if not, what is wrong."""
    if not feed.active:
        return "not in the config any more: kept, not polled"
    if feed.disabled_reason:
        return f"disabled: {feed.disabled_reason} (`news-monitor feeds enable URL` retries it)"
    if feed.last_polled_at is None:
        words = "new: not polled yet"
    elif feed.error_count:
        times = "once" if feed.error_count == 1 else f"{feed.error_count} times in a row"
        words = f"failing {times}: {feed.last_error or 'unknown error'}"
    else:
        words = "ok"
    if feed.fetch_url:
        words += f"; moved permanently, now fetched from {feed.fetch_url}"
    return words


def next_poll(feed: FeedStatus, now: datetime) -> str:
    """When the feed is polled next, relative to ``now``."""
    if not feed.active or feed.disabled_reason:
        return "never (not polled)"
    if feed.lease_owner and feed.lease_until and feed.lease_until > now:
        # Another process is polling it (or died holding it): nobody else polls it till then.
        return (f"held by {feed.lease_owner} until {feed.lease_until:%Y-%m-%d %H:%M:%S} UTC "
                f"(in {span(int((feed.lease_until - now).total_seconds()))})")
    if feed.next_poll_at is None:
        return "due now"
    seconds = int((feed.next_poll_at - now).total_seconds())
    if abs(seconds) < 30:
        return "due now"
    if seconds > 0:
        return f"in {span(seconds)}"
    return f"overdue by {span(-seconds)}"


def span(seconds: int) -> str:
    """'45 s', '14 min', '2 h 5 min', '3 d 4 h': a duration for people."""
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"
