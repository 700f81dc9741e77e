"""Spike rules in the store: detection on story arrivals, one alert per episode.

A spike rule's query is matched like any rule's, and its matches are stored without
alerts. When a saving transaction gives a story its first match of a spike rule (a
story *arrival* for that rule), the pure ``monitor.stories.spike.check_spike``
decides from the first-seen times of the rule's stories. The episode state lives in
``spike_state``; the check runs inside the story-assignment lock (a thread lock and,
on PostgreSQL, the advisory lock, see ``monitor.store.stories``), so replicas take
turns and an episode fires once. The alert is an outbox row of kind ``spike`` on the
match that crossed the level: the outbox's uniqueness and retries apply unchanged.

Re-arming: between two arrivals the count only falls (stories leave the window), so
the lowest count since the previous check is the one just before this arrival. An
episode ends when that count is below the level that fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from monitor.article import Route, SpikeRef, StoryRef
from monitor.store.tables import alert, article, match, spike_state, story
from monitor.stories.spike import SpikeSettings, check_spike


def queue_spike_alerts(
    conn: Connection, spikes: Mapping[str, SpikeSettings],
    routes: Mapping[str, Sequence[Route]], article_ids: Sequence[int], now: datetime,
) -> int:
    """Check the spike rules that matched these (just stored) articles; alert rows queued."""
    if not spikes or not article_ids:
        return 0
    new = conn.execute(
        select(match.c.id, match.c.rule).join(article, article.c.id == match.c.article_id)
        .where(match.c.article_id.in_(article_ids), match.c.rule.in_(list(spikes)),
               match.c.matched_at == now, article.c.story_id.is_not(None))
        .order_by(match.c.id)).all()
    by_rule: dict[str, set[int]] = {}
    for match_id, rule in new:
        by_rule.setdefault(rule, set()).add(match_id)
    queued = 0
    for rule, match_ids in sorted(by_rule.items()):
        trigger = _check_rule(conn, rule, spikes[rule], match_ids, now)
        if trigger is not None:
            queued += _insert_alerts(conn, trigger, routes.get(rule, ()), now)
    return queued


def _rule_stories(conn: Connection, rule: str, since: datetime) -> list[Any]:
    """(story id, first_seen, first match id) of the rule's stories first seen after ``since``.

    A match on an article of a feed's first-poll backlog (old items, stored without
    alerts; also matched later by ``rules apply``) does not count: those stories are
    first seen then but are not news then, and counting them made the first new story
    after adding feeds a "spike" of the whole backlog."""
    return list(conn.execute(
        select(story.c.id, story.c.first_seen, func.min(match.c.id).label("first_match"))
        .join(article, article.c.story_id == story.c.id)
        .join(match, match.c.article_id == article.c.id)
        .where(match.c.rule == rule, story.c.first_seen > since, article.c.backlog.is_(False))
        .group_by(story.c.id, story.c.first_seen)).all())


def _check_rule(conn: Connection, rule: str, s: SpikeSettings, match_ids: set[int],
                now: datetime) -> int | None:
    """Update the rule's episode state; the match to alert on when a new episode fires."""
    rows = _rule_stories(conn, rule, now - s.window - s.baseline)
    arrivals = [r for r in rows if r.first_match in match_ids]
    if not arrivals:
        return None  # the new matches are later articles of stories already counted
    before = [r.first_seen for r in rows if r.first_match not in match_ids]
    was_active = bool(conn.scalar(select(spike_state.c.active).where(spike_state.c.rule == rule)))
    still = was_active and check_spike(before, now, s, active=True).active
    decision = check_spike([r.first_seen for r in rows], now, s, active=still)
    values: dict[str, Any] = {"active": decision.active}
    if decision.fire:
        values["fired_at"] = now
    done = conn.execute(update(spike_state).where(spike_state.c.rule == rule).values(values))
    if not done.rowcount:  # under the assignment lock: no other writer can race this insert
        conn.execute(insert(spike_state).values(rule=rule, **{"fired_at": None, **values}))
    return max(r.first_match for r in arrivals) if decision.fire else None


def _insert_alerts(conn: Connection, match_id: int, routes: Sequence[Route],
                   now: datetime) -> int:
    rows = [{"match_id": match_id, "kind": "spike", "recipient": r.recipient,
             "target_key": r.target_key, "status": "pending", "attempts": 0,
             "next_attempt_at": now, "created_at": now} for r in dict.fromkeys(routes)]
    if rows:
        conn.execute(insert(alert), rows)
        conn.execute(update(match).where(match.c.id == match_id).values(alerted_at=now))
    return len(rows)


def spike_ref(conn: Connection, rule: str, s: SpikeSettings, fired_at: datetime,
              refs: Mapping[int, StoryRef]) -> SpikeRef:
    """What the alert of an episode fired at ``fired_at`` lists (``refs``: story_refs)."""
    rows = _rule_stories(conn, rule, fired_at - s.window - s.baseline)
    decision = check_spike([r.first_seen for r in rows if r.first_seen <= fired_at],
                           fired_at, s, active=False)
    recent = sorted((r for r in rows if fired_at - s.window < r.first_seen <= fired_at),
                    key=lambda r: (r.first_seen, r.id), reverse=True)
    return SpikeRef(decision.count, decision.expected, int(s.window / timedelta(seconds=1)),
                    tuple(refs[r.id] for r in recent if r.id in refs))


def spike_story_ids(conn: Connection, rule: str, s: SpikeSettings,
                    fired_at: datetime) -> set[int]:
    """The stories a spike alert fired at ``fired_at`` lists."""
    return {r.id for r in _rule_stories(conn, rule, fired_at - s.window)
            if r.first_seen <= fired_at}
