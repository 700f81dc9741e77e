"""Digest windows and hold decisions with an injected clock (pure: monitor.alerts.digest)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.alerts.digest import (
    QuietHours,
    RulePolicy,
    Schedule,
    due_window,
    hold_reason,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_every_hour_boundaries_are_on_the_hour_and_strictly_after() -> None:
    hourly = Schedule.every(3600)
    assert hourly.next_after(utc(2026, 11, 26, 10, 0, 1)) == utc(2026, 11, 26, 11)
    # Exactly on a boundary: that window just closed, the next one is an hour away.
    assert hourly.next_after(utc(2026, 11, 26, 10)) == utc(2026, 11, 26, 11)


def test_daily_interval_follows_local_midnight_of_its_zone() -> None:
    daily = Schedule.every(86400, "Europe/Berlin")
    # Berlin is UTC+1 in November: local midnight is 23:00 UTC.
    assert daily.next_after(utc(2026, 11, 26, 10)) == utc(2026, 11, 26, 23)


def test_cron_in_a_time_zone_skips_weekends_and_follows_dst() -> None:
    mornings = Schedule.cron("0 8 * * mon-fri", "Europe/Berlin")
    # Friday 08:00 Berlin (07:00 UTC) has just fired: next is Monday.
    assert mornings.next_after(utc(2026, 11, 27, 7)) == utc(2026, 11, 30, 7)
    # Summer time: 08:00 Berlin is 06:00 UTC.
    assert mornings.next_after(utc(2026, 7, 1, 5)) == utc(2026, 7, 1, 6)


@pytest.mark.parametrize(("when", "quiet"), [
    (utc(2026, 11, 26, 20, 59), False),  # 21:59 Berlin
    (utc(2026, 11, 26, 21, 0), True),    # 22:00 Berlin: start is inclusive
    (utc(2026, 11, 27, 3, 0), True),     # 04:00 Berlin, across midnight
    (utc(2026, 11, 27, 6, 0), False),    # 07:00 Berlin: end is exclusive
])
def test_quiet_hours_across_midnight_in_their_zone(when: datetime, quiet: bool) -> None:
    assert QuietHours.parse("22:00", "07:00", "Europe/Berlin").contains(when) is quiet


def test_immediate_rule_holds_in_quiet_hours_and_releases_at_their_end() -> None:
    policy = RulePolicy(quiet=QuietHours.parse("22:00", "07:00", "Europe/Berlin"))
    night = utc(2026, 11, 26, 22, 30)
    assert hold_reason(policy, night, 0) == "quiet"
    assert hold_reason(policy, utc(2026, 11, 26, 12), 0) is None
    assert policy.release_at(night) == utc(2026, 11, 27, 6)  # 07:00 Berlin


def test_digest_boundary_inside_quiet_hours_moves_to_their_end() -> None:
    policy = RulePolicy(mode="digest", schedule=Schedule.every(3600),
                        quiet=QuietHours.parse("22:00", "07:00"))
    assert policy.release_at(utc(2026, 11, 26, 20, 10)) == utc(2026, 11, 26, 21)
    assert policy.release_at(utc(2026, 11, 26, 21, 10)) == utc(2026, 11, 27, 7)


def test_digest_mode_always_holds() -> None:
    assert hold_reason(RulePolicy(mode="digest"), utc(2026, 11, 26, 12), 0) == "digest"


def test_max_per_hour_rolls_the_rest_over() -> None:
    policy = RulePolicy(max_per_hour=3)
    now = utc(2026, 11, 26, 12, 20)
    assert [hold_reason(policy, now, n) for n in range(5)] == [None, None, None, "rate", "rate"]
    assert policy.release_at(now) == utc(2026, 11, 26, 13)  # the default hourly digest


def test_due_window_waits_for_the_release_then_skips_taken_windows() -> None:
    policy = RulePolicy(mode="digest", schedule=Schedule.every(3600))
    release = policy.release_at(utc(2026, 11, 26, 10, 59, 59))
    assert release == utc(2026, 11, 26, 11)
    assert due_window(policy, release, utc(2026, 11, 26, 10, 59, 59), set()) is None
    assert due_window(policy, release, utc(2026, 11, 26, 11), set()) == utc(2026, 11, 26, 11)
    # A late held row whose window was already claimed goes into the next one, when due.
    taken = {utc(2026, 11, 26, 11)}
    assert due_window(policy, release, utc(2026, 11, 26, 11, 30), taken) is None
    assert due_window(policy, release, utc(2026, 11, 26, 12), taken) == utc(2026, 11, 26, 12)


def test_due_window_after_an_outage_is_one_window_not_many() -> None:
    policy = RulePolicy(mode="digest", schedule=Schedule.every(3600))
    release = utc(2026, 11, 26, 2)
    end = due_window(policy, release, utc(2026, 11, 26, 9) + timedelta(minutes=5), set())
    assert end == utc(2026, 11, 26, 2)  # the held rows all go in this one claim
