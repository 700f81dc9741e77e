"""WebSub subscriptions (mixed into ``repo.Store``): one row per feed with a hub.

States: ``new`` (hub discovered, not asked yet) -> ``subscribing`` (asked; waiting
for the hub's verification of intent) -> ``active`` (verified, until
``lease_until``) -> renewed while the feed is configured; ``unsubscribing`` ->
``unsubscribed`` once the feed left the config; ``failed`` (the hub refused or
denied; asked again later). Secrets never leave through ``Subscription.__repr__``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, or_, select, true, update

from monitor.article import FeedState
from monitor.store.tables import feed, websub_subscription

ws = websub_subscription.c


@dataclass(frozen=True)
class Subscription:
    """A feed's subscription as stored."""

    feed_id: int
    hub: str
    topic: str
    secret: str = field(repr=False)
    token: str = field(repr=False)
    state: str
    lease_until: datetime | None = None
    requested_at: datetime | None = None
    last_push_at: datetime | None = None
    last_error: str | None = None
    #: The feed is still configured (else the subscription is to be cancelled).
    feed_active: bool = True


class WebSubQueries:
    """Subscription queries; needs ``_tx`` from the Store."""

    _tx: Callable[..., Any]

    def note_hub(self, feed_id: int, hub: str, topic: str, *, secret: str, token: str) -> bool:
        """Remember a feed's hub and topic; a new or changed one is (re)subscribed.
        Returns True when something changed."""

        def work(conn: Connection) -> bool:
            row = conn.execute(select(ws.hub, ws.topic, ws.state)
                               .where(ws.feed_id == feed_id)).first()
            if row is None:
                conn.execute(websub_subscription.insert().values(
                    feed_id=feed_id, hub=hub, topic=topic, secret=secret, token=token,
                    state="new"))
                return True
            if (row.hub, row.topic) == (hub, topic) and row.state != "unsubscribed":
                return False
            conn.execute(update(websub_subscription).where(ws.feed_id == feed_id)
                         .values(hub=hub, topic=topic, state="new", lease_until=None))
            return True

        return self._tx("noting a WebSub hub", work)  # type: ignore[no-any-return]

    def subscriptions_to_request(self, now: datetime, *, renew_before_s: int,
                                 retry_after_s: int) -> list[Subscription]:
        """Subscriptions needing a request to their hub: new ones, leases ending within
        ``renew_before_s``, stale pending or failed ones, and feeds no longer configured."""
        stale = now - timedelta(seconds=retry_after_s)
        want = or_(
            ws.state == "new",
            and_(ws.state == "active", ws.lease_until <= now + timedelta(seconds=renew_before_s)),
            and_(ws.state.in_(("subscribing", "unsubscribing", "failed")),
                 or_(ws.requested_at.is_(None), ws.requested_at <= stale)),
            and_(ws.state == "active", feed.c.active.is_not(true())),
        )
        query = _select().where(want).order_by(ws.feed_id)
        return self._tx("reading WebSub subscriptions",  # type: ignore[no-any-return]
                        lambda conn: [_subscription(r) for r in conn.execute(query)],
                        readonly=True)

    def subscription(self, feed_id: int) -> Subscription | None:
        query = _select().where(ws.feed_id == feed_id)

        def work(conn: Connection) -> Subscription | None:
            row = conn.execute(query).first()
            return _subscription(row) if row is not None else None

        return self._tx("reading a WebSub subscription", work,  # type: ignore[no-any-return]
                        readonly=True)

    def active_subscriptions(self, now: datetime) -> set[int]:
        """Feeds with a verified subscription whose lease has not ended."""
        query = select(ws.feed_id).where(ws.state == "active", ws.lease_until > now)
        return self._tx("reading active subscriptions",  # type: ignore[no-any-return]
                        lambda conn: set(conn.scalars(query)), readonly=True)

    def push_states(self) -> dict[str, tuple[str, datetime | None]]:
        """Per feed URL: its subscription's state and lease end (for ``status``)."""
        query = select(feed.c.url, ws.state, ws.lease_until).join(feed, feed.c.id == ws.feed_id)
        return self._tx("reading push states",  # type: ignore[no-any-return]
                        lambda conn: {r.url: (r.state, r.lease_until) for r in conn.execute(query)},
                        readonly=True)

    def update_subscription(self, feed_id: int, **values: Any) -> None:
        """Set state, lease_until, requested_at, last_push_at or last_error."""
        stmt = update(websub_subscription).where(ws.feed_id == feed_id).values(**values)
        self._tx("updating a WebSub subscription", lambda conn: conn.execute(stmt))

    def feed_state(self, feed_id: int) -> FeedState | None:
        """One feed's state (to ingest pushed content like a poll)."""
        from monitor.store.repo import _feed_state  # repo imports this module

        query = select(feed).where(feed.c.id == feed_id)

        def work(conn: Connection) -> FeedState | None:
            row = conn.execute(query).first()
            return _feed_state(row) if row is not None else None

        return self._tx("reading a feed", work, readonly=True)  # type: ignore[no-any-return]


def _select() -> Any:
    return (select(websub_subscription, feed.c.active.label("feed_active"))
            .join(feed, feed.c.id == ws.feed_id))


def _subscription(r: Any) -> Subscription:
    return Subscription(feed_id=r.feed_id, hub=r.hub, topic=r.topic, secret=r.secret,
                        token=r.token, state=r.state, lease_until=r.lease_until,
                        requested_at=r.requested_at, last_push_at=r.last_push_at,
                        last_error=r.last_error, feed_active=bool(r.feed_active))
