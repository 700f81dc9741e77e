"""Outbox queries for delivery policy and digests (mixed into ``repo.Store``).

Held alerts wait for their rule's digest (status ``held``). A digest window is
claimed by inserting a ``digest`` row whose unique key is (rule, recipient,
target, window end): the replica whose insert wins attaches the held alerts
(status ``digested``) and writes the digest's own outbox row in the same
transaction, so a window is built once, and a crash before the commit leaves
the held rows for the next tick: nothing lost, nothing repeated.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.dialects import sqlite

from monitor.article import DigestItem, DigestToSend, Hit
from monitor.store.pages import article_full_text
from monitor.store.stories import story_refs
from monitor.store.tables import alert, article, digest, feed, lease_free, match

T = TypeVar("T")


@dataclass(frozen=True)
class HeldGroup:
    """The held alerts of one rule and target: their earliest release time."""

    rule: str
    recipient: str
    target_key: str
    release: datetime
    count: int


class OutboxQueries:
    """Delivery-policy and digest queries; needs ``_tx`` from the Store."""

    _tx: Callable[..., Any]

    def hold_alert(self, alert_id: int, release_at: datetime) -> None:
        """Keep an alert for the digest released at ``release_at`` (attempts unchanged)."""
        stmt = (update(alert).where(alert.c.id == alert_id)
                .values(status="held", next_attempt_at=release_at, lease_owner=None,
                        lease_until=None))
        self._tx("holding an alert", lambda conn: conn.execute(stmt))

    def sent_counts_since(self, since: datetime) -> dict[tuple[str, str, str], int]:
        """Immediate messages sent since ``since``, by (rule, recipient, target_key)."""
        query = (select(match.c.rule, alert.c.recipient, alert.c.target_key, func.count())
                 .join(match, match.c.id == alert.c.match_id)
                 .where(alert.c.kind == "match", alert.c.status == "sent",
                        alert.c.sent_at >= since)
                 .group_by(match.c.rule, alert.c.recipient, alert.c.target_key))

        def work(conn: Connection) -> dict[tuple[str, str, str], int]:
            return {(r[0], r[1], r[2]): int(r[3]) for r in conn.execute(query)}

        return self._tx("counting sent alerts", work, readonly=True)  # type: ignore[no-any-return]

    def held_groups(self) -> list[HeldGroup]:
        """Every (rule, target) with held alerts, with their earliest release time."""
        query = (select(match.c.rule, alert.c.recipient, alert.c.target_key,
                        func.min(alert.c.next_attempt_at), func.count())
                 .join(match, match.c.id == alert.c.match_id)
                 .where(alert.c.status == "held")
                 .group_by(match.c.rule, alert.c.recipient, alert.c.target_key))

        def work(conn: Connection) -> list[HeldGroup]:
            return [HeldGroup(r[0], r[1], r[2], _aware(r[3]), int(r[4]))
                    for r in conn.execute(query)]

        return self._tx("listing held alerts", work, readonly=True)  # type: ignore[no-any-return]

    def taken_windows(self, group: HeldGroup) -> set[datetime]:
        """Window ends already claimed for this group at or after its release time."""
        query = select(digest.c.window_end).where(
            digest.c.rule == group.rule, digest.c.recipient == group.recipient,
            digest.c.target_key == group.target_key, digest.c.window_end >= group.release)
        return self._tx(  # type: ignore[no-any-return]
            "reading digest windows", lambda conn: set(conn.scalars(query)), readonly=True)

    def claim_digest(self, group: HeldGroup, window_end: datetime, now: datetime) -> int | None:
        """Claim a digest window; its outbox row id, or None if taken (or nothing held)."""

        def work(conn: Connection) -> int | None:
            ins = (_insert(conn, digest)
                   .values(rule=group.rule, recipient=group.recipient,
                           target_key=group.target_key, window_end=window_end, match_count=0,
                           created_at=now)
                   .on_conflict_do_nothing(index_elements=[digest.c.rule, digest.c.recipient,
                                                           digest.c.target_key,
                                                           digest.c.window_end])
                   .returning(digest.c.id))
            digest_id = conn.scalar(ins)
            if digest_id is None:
                return None
            rule_matches = select(match.c.id).where(match.c.rule == group.rule)
            count = conn.execute(
                update(alert).where(alert.c.status == "held", alert.c.kind == "match",
                                    alert.c.recipient == group.recipient,
                                    alert.c.target_key == group.target_key,
                                    alert.c.match_id.in_(rule_matches))
                .values(status="digested", digest_id=digest_id, lease_owner=None,
                        lease_until=None)).rowcount
            conn.execute(update(digest).where(digest.c.id == digest_id)
                         .values(match_count=count))
            if not count:
                return None
            return conn.scalar(  # type: ignore[no-any-return]
                _insert(conn, alert)
                .values(kind="digest", digest_id=digest_id, match_id=None,
                        recipient=group.recipient, target_key=group.target_key,
                        status="pending", attempts=0, next_attempt_at=now, created_at=now)
                .returning(alert.c.id))

        return self._tx("claiming a digest", work)  # type: ignore[no-any-return]

    def claim_due_digests(
        self, now: datetime, *, owner: str, lease_s: int = 120, limit: int = 20,
        max_items: int = 20,
    ) -> list[DigestToSend]:
        """Lease due digest messages, each with its newest ``max_items`` matches."""
        due = (select(alert.c.id)
               .where(alert.c.kind == "digest", alert.c.status.in_(("pending", "failed")),
                      alert.c.next_attempt_at <= now,
                      lease_free(alert, now))
               .order_by(alert.c.next_attempt_at, alert.c.id).limit(limit)
               .with_for_update(skip_locked=True))

        def work(conn: Connection) -> list[DigestToSend]:
            rows = conn.execute(
                update(alert).where(alert.c.id.in_(due))
                .values(lease_owner=owner, lease_until=now + timedelta(seconds=lease_s))
                .returning(alert.c.id, alert.c.digest_id, alert.c.recipient,
                           alert.c.target_key, alert.c.attempts, alert.c.created_at)).all()
            return [_digest_to_send(conn, r, max_items)
                    for r in sorted(rows, key=lambda r: r.id)]

        return self._tx("claiming digests", work)  # type: ignore[no-any-return]


def _digest_to_send(conn: Connection, r: Any, max_items: int) -> DigestToSend:
    head = conn.execute(select(digest).where(digest.c.id == r.digest_id)).one()
    # The page text too: a teaser's evidence is often in it (the excerpt shows it).
    items = conn.execute(article_full_text(
        select(match.c.rule, match.c.terms, match.c.snippet, match.c.matched_at, match.c.hits,
               article.c.title, article.c.link, article.c.canonical_url, article.c.published,
               article.c.updated, article.c.summary, article.c.content, article.c.story_id,
               article.c.authors, article.c.categories, feed.c.name.label("feed_name"))
        .select_from(alert)
        .join(match, match.c.id == alert.c.match_id)
        .join(article, article.c.id == match.c.article_id)
        .join(feed, feed.c.id == article.c.first_feed_id)
        .where(and_(alert.c.digest_id == r.digest_id, alert.c.kind == "match"))
        # Newest first by the entry's own date (published, else updated); an undated
        # entry sorts by when it was matched.
        .order_by(func.coalesce(article.c.published, article.c.updated,
                                match.c.matched_at).desc(),
                  match.c.id.desc())
        .limit(max_items))).all()
    kept = _one_per_story(conn, items)
    return DigestToSend(
        id=r.id, digest_id=r.digest_id, rule=head.rule, recipient=r.recipient,
        target_key=r.target_key, attempts=r.attempts, created_at=_aware(r.created_at),
        window_end=_aware(head.window_end),
        items=tuple(DigestItem(rule=i.rule, title=i.title, link=i.link or i.canonical_url,
                               feed=i.feed_name, published=_aware(i.published),
                               matched_at=_aware(i.matched_at), terms=tuple(i.terms),
                               snippet=i.snippet, summary=i.summary,
                               updated=_aware(i.updated), content=i.content,
                               hits=tuple(Hit(**h) for h in i.hits), also_reported_by=also,
                               full_text=i.full_text or "", authors=tuple(i.authors or ()),
                               categories=tuple(i.categories or ()), folded=folded)
                    for i, also, folded in kept),
        total=int(head.match_count), folded=len(items) - len(kept))


def _one_per_story(conn: Connection, items: Sequence[Any],
                   ) -> list[tuple[Any, tuple[str, ...], int]]:
    """The newest match of each story, with the story's other outlets ("also reported
    by ...") and how many of the story's other matches it stands for; matches without
    a story stand alone."""
    refs = story_refs(conn, {i.story_id for i in items if i.story_id is not None})
    folded = Counter(i.story_id for i in items if i.story_id is not None)
    out, seen = [], set()
    for i in items:
        if i.story_id is not None and i.story_id in seen:
            continue
        seen.add(i.story_id)
        ref = refs.get(i.story_id) if i.story_id is not None else None
        out.append((i, tuple(o for o in ref.outlets if o != i.feed_name) if ref else (),
                    folded[i.story_id] - 1 if i.story_id is not None else 0))
    return out


def _insert(conn: Connection, table: Any) -> Any:
    if conn.dialect.name == "postgresql":
        # Imported here: loading the PostgreSQL dialect costs SQLite users ~0.1 s.
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    return sqlite.insert(table)


def _aware(value: Any) -> Any:
    """Aggregates (min) and RETURNING bypass nothing here, but SQLite may hand back naive."""
    from datetime import UTC

    if isinstance(value, datetime) and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value
