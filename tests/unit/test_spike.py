"""Spike detection with synthetic arrivals and an injected clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.stories.spike import SpikeSettings, check_spike

T0 = datetime(2026, 3, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
S = SpikeSettings(window=HOUR, baseline=timedelta(days=7), factor=3, min_stories=5)


def run(arrivals: list[datetime], start: datetime, end: datetime,
        step: timedelta = timedelta(minutes=10)) -> list[datetime]:
    """Check every ``step`` from start to end; the instants at which an alert fired."""
    fired, active, now = [], False, start
    arrivals = sorted(arrivals)
    while now <= end:
        seen = [t for t in arrivals if t <= now]
        decision = check_spike(seen, now, S, active=active)
        active = decision.active
        if decision.fire:
            fired.append(now)
        now += step
    return fired


def steady(per_hour: int, days: int) -> list[datetime]:
    every = HOUR / per_hour
    return [T0 + i * every for i in range(per_hour * 24 * days)]


def test_steady_traffic_never_fires() -> None:
    arrivals = steady(per_hour=6, days=9)
    assert run(arrivals, T0 + timedelta(days=7), T0 + timedelta(days=9)) == []


def test_a_surge_fires_once_per_episode_and_rearms() -> None:
    arrivals = steady(per_hour=1, days=9)
    surge = T0 + timedelta(days=8, hours=10)
    arrivals += [surge + timedelta(minutes=2 * i) for i in range(20)]
    second = surge + timedelta(hours=6)
    arrivals += [second + timedelta(minutes=2 * i) for i in range(20)]
    fired = run(arrivals, T0 + timedelta(days=8), T0 + timedelta(days=9))
    assert len(fired) == 2
    assert surge < fired[0] <= surge + HOUR and second < fired[1] <= second + HOUR


def test_few_stories_never_fire_even_from_zero() -> None:
    arrivals = [T0 + timedelta(days=8, minutes=i) for i in range(4)]
    assert run(arrivals, T0 + timedelta(days=8), T0 + timedelta(days=8, hours=2)) == []


def test_a_daily_morning_rhythm_does_not_fire_every_morning() -> None:
    arrivals = []
    for day in range(10):
        for hour in range(24):
            n = 12 if 7 <= hour < 10 else 1  # busy mornings, quiet rest of the day
            base = T0 + timedelta(days=day, hours=hour)
            arrivals += [base + HOUR * i / n for i in range(n)]
    assert run(arrivals, T0 + timedelta(days=7), T0 + timedelta(days=10)) == []
    # ... which the plain mean-per-window baseline would not manage:
    plain = SpikeSettings(window=HOUR, baseline=timedelta(hours=23), factor=3, min_stories=5)
    morning = T0 + timedelta(days=8, hours=9)
    seen = [t for t in arrivals if t <= morning]
    assert check_spike(seen, morning, plain, active=False).fire
