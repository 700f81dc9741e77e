"""How often to poll a feed that is also pushed (WebSub): the safety net. Pure.

While a verified subscription is active and the hub brings everything (the poll
that just ran found no item the hub had not pushed first), polling slows down by
``PUSHED_POLL_FACTOR``, up to ``max_interval_s``. As soon as a poll finds an item
the hub missed (a silent, slow or broken hub), the feed is polled at its own rate
again. Other feeds are never affected.
"""

from __future__ import annotations

#: While a feed is pushed, polling, the safety net, runs this many times slower.
PUSHED_POLL_FACTOR = 4


def safety_net_interval(interval_s: float, *, pushed: bool, missed_items: int,
                        max_interval_s: float) -> float:
    """The poll interval of one feed: ``interval_s`` (its own rate), slower while
    ``pushed`` (an active subscription) and the poll found no ``missed_items``."""
    if not pushed or missed_items > 0:
        return interval_s
    return max(interval_s, min(interval_s * PUSHED_POLL_FACTOR, max_interval_s))
