"""Spike detection (pure, the clock injected as ``now``): an entity suddenly in many stories.

Counts *stories* (not articles, so syndication does not inflate it) with a match of
the rule's query first seen in the last ``window``. It fires when the count reaches
``min_stories`` and is ``factor`` times what is expected for that window, where the
expectation is the larger of

* the mean count per window over the ``baseline`` before it, and
* the mean count of the windows at the same time of day on the previous days of the
  baseline: a daily rhythm (a busy morning) is then compared with earlier mornings
  and does not fire every day.

One alert per episode: once fired it stays quiet until the count falls back below
the level that fired it (re-armed), so replicas that all see the same counts agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

DAY = timedelta(days=1)


@dataclass(frozen=True)
class SpikeSettings:
    """``spike: {query, window, baseline, factor, min_stories}`` of a rule."""

    window: timedelta = timedelta(hours=1)
    baseline: timedelta = timedelta(days=7)
    factor: float = 3.0
    min_stories: int = 5


@dataclass(frozen=True)
class SpikeDecision:
    """The verdict at one instant."""

    #: Send an alert now (a new episode started).
    fire: bool
    #: An episode is under way after this check (store it; pass it back next time).
    active: bool
    #: Stories first seen in the window, and the expected count.
    count: int
    expected: float


def _count(times: Sequence[datetime], start: datetime, end: datetime) -> int:
    return sum(start < t <= end for t in times)


def expected_count(first_seen: Sequence[datetime], now: datetime, s: SpikeSettings) -> float:
    """What the window ending ``now`` would hold on an ordinary day."""
    start = now - s.window
    base_start = start - s.baseline
    windows = s.baseline / s.window
    overall = _count(first_seen, base_start, start) / windows if windows else 0.0
    same_time = [
        _count(first_seen, start - k * DAY, now - k * DAY)
        for k in range(1, int(s.baseline / DAY) + 1)
    ]
    seasonal = sum(same_time) / len(same_time) if same_time else 0.0
    return max(overall, seasonal)


def check_spike(
    first_seen: Sequence[datetime], now: datetime, s: SpikeSettings, *, active: bool
) -> SpikeDecision:
    """Decide at ``now`` from the first-seen times of the stories matching the query.

    ``active`` is the result of the previous check (False at first).
    """
    count = _count(first_seen, now - s.window, now)
    expected = expected_count(first_seen, now, s)
    level = max(float(s.min_stories), s.factor * expected)
    spiking = count >= level
    return SpikeDecision(fire=spiking and not active, active=spiking, count=count,
                         expected=expected)
