"""Per-rule delivery policy: send now or hold for a digest, and when a digest is due (pure).

Everything here takes ``now`` as an argument and does no I/O. APScheduler's
triggers are used as calculators only (``get_next_fire_time``): they know cron
syntax, intervals and time zones (DST included), so digest boundaries follow the
rule's zone, not the server's.

    hold_reason(policy, now, sent_last_hour)  -> None (send now) | "digest" | "quiet" | "rate"
    policy.release_at(t)                      -> when rows held at t go out as a digest

A held alert waits in the outbox (status ``held``) with its release time
(``release_at`` of the moment it was held); the digest tick claims the window
ending at the group's earliest release time once that has passed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

# The claimed-digest records live with the other plain records (the store builds them).
from monitor.article import DigestItem, DigestToSend  # noqa: F401  (re-exported)

#: The digest schedule of a rule that names none (used by quiet hours and max_per_hour).
DEFAULT_EVERY_S = 3600
#: Fixed anchor of interval schedules, so every replica and restart agrees on boundaries.
_ANCHOR = datetime(2000, 1, 3)  # a Monday, midnight (local time of the schedule's zone)
_TICK = timedelta(microseconds=1)


class _Trigger(Protocol):
    def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class Schedule:
    """Digest boundaries: a cron expression or a fixed interval, in a time zone."""

    trigger: Any

    @classmethod
    def every(cls, seconds: int, tz: str = "UTC") -> Schedule:
        # APScheduler's triggers are imported here: only rules with a digest need them.
        from apscheduler.triggers.interval import IntervalTrigger

        zone = ZoneInfo(tz)
        return cls(IntervalTrigger(seconds=seconds, start_date=_ANCHOR.replace(tzinfo=zone),
                                   timezone=zone))

    @classmethod
    def cron(cls, expr: str, tz: str = "UTC") -> Schedule:
        from apscheduler.triggers.cron import CronTrigger

        return cls(CronTrigger.from_crontab(expr, timezone=ZoneInfo(tz)))

    def next_after(self, when: datetime) -> datetime:
        """The first boundary strictly after ``when`` (UTC)."""
        trigger: _Trigger = self.trigger
        fire = trigger.get_next_fire_time(None, when + _TICK)
        if fire is None:  # a cron that never fires again: hold at most a year
            return when + timedelta(days=365)
        return fire.astimezone(UTC)


@dataclass(frozen=True)
class QuietHours:
    """A daily span (may cross midnight) in which nothing is sent at once."""

    start: time
    end: time
    tz: str = "UTC"

    @classmethod
    def parse(cls, start: str, end: str, tz: str = "UTC") -> QuietHours:
        return cls(_clock(start), _clock(end), tz)

    def contains(self, when: datetime) -> bool:
        """Whether ``when`` lies in the quiet span (start inclusive, end exclusive)."""
        local = when.astimezone(ZoneInfo(self.tz)).time().replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, when: datetime) -> datetime:
        """The first end of quiet hours after ``when`` (UTC)."""
        zone = ZoneInfo(self.tz)
        local = when.astimezone(zone)
        end = datetime.combine(local.date(), self.end, tzinfo=zone)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.end, tzinfo=zone)
        return end.astimezone(UTC)


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


@dataclass(frozen=True)
class RulePolicy:
    """How one rule's alerts are delivered."""

    mode: str = "immediate"
    schedule: Schedule = field(default_factory=lambda: Schedule.every(DEFAULT_EVERY_S))
    max_per_hour: int | None = None
    quiet: QuietHours | None = None

    def release_at(self, held_at: datetime) -> datetime:
        """When alerts held at ``held_at`` go out as a digest.

        Quiet hours of an immediate rule end with a digest; otherwise the next
        schedule boundary, postponed to the end of quiet hours if it falls inside.
        """
        if self.quiet is not None and self.mode == "immediate" and self.quiet.contains(held_at):
            return self.quiet.end_after(held_at)
        boundary = self.schedule.next_after(held_at)
        if self.quiet is not None and self.quiet.contains(boundary):
            return self.quiet.end_after(boundary)
        return boundary


IMMEDIATE = RulePolicy()


def hold_reason(policy: RulePolicy, now: datetime, sent_last_hour: int) -> str | None:
    """Why an alert due at ``now`` waits for a digest, or None to send it now.

    ``sent_last_hour``: immediate messages this rule sent to this target in the
    hour before ``now`` (the roll-over count for ``max_per_hour``).
    """
    if policy.mode == "digest":
        return "digest"
    if policy.quiet is not None and policy.quiet.contains(now):
        return "quiet"
    if policy.max_per_hour is not None and sent_last_hour >= policy.max_per_hour:
        return "rate"
    return None


def due_window(
    policy: RulePolicy, release: datetime, now: datetime, taken: set[datetime]
) -> datetime | None:
    """The end of the digest window to claim at ``now``, or None when none is due yet.

    ``release`` is the earliest release time of the group's held alerts (set when
    each was held). A window already in ``taken`` (claimed before these rows were
    held: they arrived late) moves to the next one.
    """
    end = release
    for _ in range(10_000):  # a bound, not a limit reached in practice
        if end > now:
            return None
        if end not in taken:
            return end
        end = policy.release_at(end)
    return None
